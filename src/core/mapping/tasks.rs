//! `pids_limit` → `TasksMax`: how many processes and threads the task may have at once, so a
//! fork bomb exhausts its own budget and not the node's.

use crate::core::property::{Property, Value};
use crate::core::task::Resources;

pub fn properties(res: &Resources) -> Vec<Property> {
    if res.pids_limit == 0 {
        return Vec::new();
    }
    vec![Property::new("TasksMax", Value::U64(res.pids_limit))]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::property::find;

    #[test]
    fn a_limit_is_set_only_when_asked() {
        assert!(properties(&Resources::default()).is_empty());
        let props = properties(&Resources {
            pids_limit: 64,
            ..Default::default()
        });
        assert!(matches!(find(&props, "TasksMax"), Some(Value::U64(64))));
        assert_eq!(find(&props, "TasksMax").unwrap().signature(), "t");
    }
}
