//! How big a config may be before it is decoded. A job's `config` block is hostile input, and
//! decoding it into [`rmpv::Value`]s costs stack per level of nesting and tens of bytes of heap
//! per value, however small each value is on the wire: an empty string is one byte of msgpack
//! and a whole `Value` in memory. So the encoded bytes are walked once first, without
//! recursion and without allocating per value, and a config over any bound is refused before a
//! single value is built.
//!
//! The bounds are far above any real task config (a few levels of blocks, a few hundred
//! values) and hold in every build, debug or release.

use rmp::Marker;

/// Largest encoded config, in bytes: far above what a task config can usefully hold (an
/// argument of 128 KiB or more cannot even be executed), and a quarter of the largest gRPC
/// message the plugin accepts, so one config can hold only so much of the plugin's memory.
/// Memory per decoded value is bounded by [`MAX_VALUES`].
pub const MAX_BYTES: usize = 16 << 20;
/// Deepest nesting of lists, maps and blocks. Nomad's own schema nests three levels.
pub const MAX_DEPTH: usize = 32;
/// Most values (each list item, map key and map value counts) in one config.
pub const MAX_VALUES: u64 = 100_000;

/// Checks `bytes` against [`MAX_BYTES`], [`MAX_DEPTH`] and [`MAX_VALUES`]; the error says
/// which bound was passed. Malformed or truncated msgpack passes this check: the decoder
/// reports it.
pub fn check(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() > MAX_BYTES {
        return Err(format!(
            "is {} bytes encoded; the most a config may be is {MAX_BYTES} bytes",
            bytes.len()
        ));
    }
    let mut rest = bytes;
    // For each open list or map, how many values of it are still to come; the top level is
    // one value.
    let mut open: Vec<u64> = vec![1];
    let mut values: u64 = 1;
    while let Some(left) = open.last_mut() {
        if *left == 0 {
            open.pop();
            continue;
        }
        *left -= 1;
        let Some(children) = next_value(&mut rest) else {
            return Ok(());
        };
        if children == 0 {
            continue;
        }
        values = values.saturating_add(children);
        if values > MAX_VALUES {
            return Err(format!(
                "holds more than {MAX_VALUES} values (list items, map keys and values)"
            ));
        }
        if open.len() > MAX_DEPTH {
            return Err(format!(
                "nests lists, maps and blocks more than {MAX_DEPTH} levels deep"
            ));
        }
        open.push(children);
    }
    Ok(())
}

/// Steps over one value's header and, for a scalar, its payload. Returns how many values a
/// list or map holds (a map's keys and values both count; 0 for a scalar), or `None` when the
/// input ends or is not msgpack.
fn next_value(rest: &mut &[u8]) -> Option<u64> {
    let (&first, tail) = rest.split_first()?;
    *rest = tail;
    let (skip, children) = match Marker::from_u8(first) {
        Marker::FixPos(_) | Marker::FixNeg(_) | Marker::Null | Marker::True | Marker::False => {
            (0, 0)
        }
        Marker::Reserved => return None,
        Marker::FixStr(n) => (usize::from(n), 0),
        Marker::FixArray(n) => (0, u64::from(n)),
        Marker::FixMap(n) => (0, 2 * u64::from(n)),
        Marker::U8 | Marker::I8 => (1, 0),
        Marker::U16 | Marker::I16 => (2, 0),
        Marker::U32 | Marker::I32 | Marker::F32 => (4, 0),
        Marker::U64 | Marker::I64 | Marker::F64 => (8, 0),
        Marker::FixExt1 => (2, 0),
        Marker::FixExt2 => (3, 0),
        Marker::FixExt4 => (5, 0),
        Marker::FixExt8 => (9, 0),
        Marker::FixExt16 => (17, 0),
        Marker::Str8 | Marker::Bin8 => (usize::try_from(length(rest, 1)?).ok()?, 0),
        Marker::Str16 | Marker::Bin16 => (usize::try_from(length(rest, 2)?).ok()?, 0),
        Marker::Str32 | Marker::Bin32 => (usize::try_from(length(rest, 4)?).ok()?, 0),
        // An extension's length is followed by its type byte.
        Marker::Ext8 => (usize::try_from(length(rest, 1)?).ok()? + 1, 0),
        Marker::Ext16 => (usize::try_from(length(rest, 2)?).ok()? + 1, 0),
        Marker::Ext32 => (usize::try_from(length(rest, 4)?).ok()? + 1, 0),
        Marker::Array16 => (0, length(rest, 2)?),
        Marker::Array32 => (0, length(rest, 4)?),
        Marker::Map16 => (0, 2 * length(rest, 2)?),
        Marker::Map32 => (0, 2 * length(rest, 4)?),
    };
    *rest = rest.get(skip..)?;
    Some(children)
}

/// Reads a big-endian length of `width` bytes.
fn length(rest: &mut &[u8], width: usize) -> Option<u64> {
    let (bytes, tail) = rest.split_at_checked(width)?;
    *rest = tail;
    Some(bytes.iter().fold(0, |n, b| (n << 8) | u64::from(*b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> Vec<u8> {
        let mut bytes = vec![0x91; depth];
        bytes.push(0xc0);
        bytes
    }

    #[test]
    fn real_configs_pass() {
        let mut config = vec![0x82, 0xa4];
        config.extend(b"args\x92\xa1a\xd9\x03abc\xa7command\xa7/bin/sh");
        assert_eq!(check(&config), Ok(()));
        assert_eq!(check(&nested(MAX_DEPTH)), Ok(()));
        assert_eq!(check(&[]), Ok(()));
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let e = check(&nested(MAX_DEPTH + 1)).unwrap_err();
        assert!(e.contains("levels deep"), "{e}");
        assert!(check(&nested(1_000_000)).is_err());
        // Maps nest the same way: {"a": {"a": ...}}.
        let mut maps = [0x81, 0xa1, b'a'].repeat(100);
        maps.push(0xc0);
        assert!(check(&maps).unwrap_err().contains("levels deep"));
    }

    #[test]
    fn too_many_values_or_bytes_are_refused() {
        // A list of 200000 empty strings: 200 KB on the wire, far more once decoded.
        let mut many = vec![0xdd, 0x00, 0x03, 0x0d, 0x40];
        many.extend(std::iter::repeat_n(0xa0, 200_000));
        assert!(check(&many).unwrap_err().contains("values"));
        // A header that only claims many values is refused as well.
        assert!(check(&[0xdf, 0xff, 0xff, 0xff, 0xff]).is_err());
        let big = vec![0u8; MAX_BYTES + 1];
        assert!(check(&big).unwrap_err().contains("bytes"));
    }

    #[test]
    fn malformed_input_is_left_to_the_decoder() {
        for bytes in [&[0xc1][..], &[0x92, 0xa5, b'x'], &[0xdb, 0xff], &[0xcf, 1]] {
            assert_eq!(check(bytes), Ok(()), "{bytes:x?}");
        }
    }
}
