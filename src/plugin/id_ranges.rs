//! Sets of uids or gids written as Nomad's exec driver writes `denied_host_uids` and
//! `denied_host_gids`: comma-separated ids and inclusive `low-high` ranges, e.g.
//! `"0-999,1500"`; the empty string is the empty set.
//!
//! Every piece must be an unsigned decimal that fits 32 bits (no sign, no spaces), and a
//! range's low end must not exceed its high end, as Nomad validates them. Nomad also lets a
//! piece with more than one `-` through its validation and then ignores it; here that is an
//! error too, so a typo never silently denies nothing.

use crate::core::cty::ConfigError;

/// A parsed set of ids, as the inclusive ranges it was written with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdRanges(Vec<(u32, u32)>);

impl IdRanges {
    /// Parses `text`, the value of setting `option`; an error names the option and the piece.
    pub fn parse(option: &str, text: &str) -> Result<IdRanges, ConfigError> {
        if text.is_empty() {
            return Ok(IdRanges::default());
        }
        let error = |piece: &str, why: &str| ConfigError {
            path: option.into(),
            reason: format!(
                "\"{piece}\" is not a valid id or range ({why}); write ids and low-high ranges \
                 separated by commas, e.g. \"0-999,1500\""
            ),
        };
        let id = |piece: &str, part: &str| -> Result<u32, ConfigError> {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(error(piece, "not an unsigned decimal number"));
            }
            part.parse::<u32>()
                .map_err(|_| error(piece, "larger than 4294967295"))
        };
        let ranges = text
            .split(',')
            .map(|piece| {
                let parts: Vec<&str> = piece.split('-').collect();
                match parts[..] {
                    [single] => id(piece, single).map(|n| (n, n)),
                    [low, high] => {
                        let (low, high) = (id(piece, low)?, id(piece, high)?);
                        if low > high {
                            return Err(error(piece, "the lower bound is above the upper one"));
                        }
                        Ok((low, high))
                    }
                    _ => Err(error(piece, "more than one '-'")),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(IdRanges(ranges))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, id: u32) -> bool {
        self.0.iter().any(|&(low, high)| (low..=high).contains(&id))
    }

    /// Whether any id from `low` to `high` (inclusive) is in the set.
    pub fn overlaps(&self, low: u32, high: u32) -> bool {
        self.0.iter().any(|&(l, h)| l <= high && low <= h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ids_and_ranges_as_nomad_writes_them() {
        let set = IdRanges::parse("denied_host_uids", "0-999,1500,70000-70000").unwrap();
        for id in [0, 999, 1500, 70000] {
            assert!(set.contains(id), "{id}");
        }
        for id in [1000, 1499, 1501, 69999, 70001, u32::MAX] {
            assert!(!set.contains(id), "{id}");
        }
        assert!(set.overlaps(1400, 1500) && set.overlaps(500, 600));
        assert!(!set.overlaps(1000, 1499));
        let empty = IdRanges::parse("denied_host_uids", "").unwrap();
        assert!(empty.is_empty() && !empty.contains(0));
        assert!(
            IdRanges::parse("x", "4294967295")
                .unwrap()
                .contains(u32::MAX)
        );
    }

    #[test]
    fn a_bad_piece_names_the_option_and_the_piece() {
        for bad in [
            "100-1",
            "1-2-3",
            "abc",
            "-5",
            "5-",
            "+5",
            " 5",
            "0-999, 1500",
            "1,,2",
            "1,",
            ",",
            "4294967296",
            "1.5",
        ] {
            let e = IdRanges::parse("denied_host_gids", bad).unwrap_err();
            assert_eq!(e.path, "denied_host_gids", "{bad}");
            assert!(e.reason.contains('"'), "{bad}: {}", e.reason);
        }
        let e = IdRanges::parse("denied_host_uids", "0-999,100-1").unwrap_err();
        assert!(
            e.reason.contains("\"100-1\"") && e.reason.contains("lower bound"),
            "{}",
            e.reason
        );
    }
}
