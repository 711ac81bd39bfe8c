//! pytest node ids and the JUnit names pytest writes for them.
//!
//! pytest reports `tests/test_x.py::TestY::test_z[1]` in JUnit XML as
//! classname `tests.test_x.TestY` and name `test_z[1]`. Without the `file`
//! attribute (the xunit2 family) that mapping cannot be reversed reliably
//! (`tests/test_x/TestY.py` gives the same classname), so tools match the
//! other way round: they turn the ids they know into JUnit keys.

use std::collections::HashMap;

/// The (classname, name) pair pytest writes for a node id.
pub fn junit_key(node_id: &str) -> (String, String) {
    // Parameters may hold anything, `::` and `/` included: split before them.
    let (path, params) = match node_id.find('[') {
        Some(bracket) => node_id.split_at(bracket),
        None => (node_id, ""),
    };
    let mut names: Vec<&str> = path.split("::").collect();
    let name = format!("{}{params}", names.pop().unwrap_or_default());
    let module = names.first().map(|file| {
        let file = file.strip_suffix(".py").unwrap_or(file);
        file.replace('/', ".")
    });
    let classname = module
        .into_iter()
        .chain(names.iter().skip(1).map(|class| class.to_string()))
        .collect::<Vec<_>>()
        .join(".");
    (classname, name)
}

/// Planned node ids, found again by the JUnit key pytest writes for them:
/// how junit-merge's `--expect` and stack-run's reruns match reports to plans.
pub struct KeyIndex {
    first: HashMap<(String, String), usize>,
}

impl KeyIndex {
    /// Index `ids` by key; ids sharing a key (pytest writes them alike)
    /// are found as the first of them.
    pub fn new<'a>(ids: impl IntoIterator<Item = &'a str>) -> KeyIndex {
        let mut first = HashMap::new();
        for (index, id) in ids.into_iter().enumerate() {
            first.entry(junit_key(id)).or_insert(index);
        }
        KeyIndex { first }
    }

    /// The position of the first planned id a JUnit case stands for.
    pub fn find(&self, classname: &str, name: &str) -> Option<usize> {
        self.first
            .get(&(classname.to_string(), name.to_string()))
            .copied()
    }

    /// Whether the id at `index` is the first with its key.
    pub fn is_first(&self, index: usize, id: &str) -> bool {
        self.first.get(&junit_key(id)) == Some(&index)
    }
}

/// The node id for a JUnit test case, when the case says which file it is in
/// (pytest's xunit1 family, and most non-Python tools that set `file`).
pub fn from_junit(file: &str, classname: &str, name: &str) -> String {
    let module = file.strip_suffix(".py").unwrap_or(file).replace('/', ".");
    let classes = classname
        .strip_prefix(&module)
        .unwrap_or("")
        .trim_start_matches('.');
    let mut id = file.to_string();
    for class in classes.split('.').filter(|c| !c.is_empty()) {
        id.push_str("::");
        id.push_str(class);
    }
    id.push_str("::");
    id.push_str(name);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_index_finds_the_first_planned_id_of_a_case() {
        let ids = ["t.py::test_a", "t.py::C::test_b", "t.py::test_a"];
        let index = KeyIndex::new(ids);
        assert_eq!(index.find("t", "test_a"), Some(0));
        assert_eq!(index.find("t.C", "test_b"), Some(1));
        assert_eq!(index.find("t", "test_c"), None);
        assert!(index.is_first(0, ids[0]));
        assert!(!index.is_first(2, ids[2]));
    }

    fn key(classname: &str, name: &str) -> (String, String) {
        (classname.to_string(), name.to_string())
    }

    #[test]
    fn function_in_a_module() {
        assert_eq!(
            junit_key("tests/test_x.py::test_a"),
            key("tests.test_x", "test_a")
        );
    }

    #[test]
    fn method_in_nested_classes() {
        assert_eq!(
            junit_key("tests/test_x.py::TestA::TestB::test_c"),
            key("tests.test_x.TestA.TestB", "test_c")
        );
    }

    #[test]
    fn parameters_keep_slashes_and_colons() {
        assert_eq!(
            junit_key("tests/test_x.py::test_url[http://a/b::c]"),
            key("tests.test_x", "test_url[http://a/b::c]")
        );
    }

    #[test]
    fn node_id_rebuilt_from_file_attribute() {
        let id = "tests/test_x.py::TestY::test_z[1]";
        let (classname, name) = junit_key(id);
        assert_eq!(from_junit("tests/test_x.py", &classname, &name), id);
        assert_eq!(
            from_junit("tests/test_x.py", "tests.test_x", "test_a"),
            "tests/test_x.py::test_a"
        );
    }
}
