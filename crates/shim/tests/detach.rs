//! The monitor's first process is reaped by launch(): nothing is left as a
//! child (or zombie) of the daemon. Alone in its own test binary so no other
//! test's processes can be mistaken for leftovers.

mod common;

use common::{wait_exit, Fixture};

fn children_of_this_process() -> Vec<String> {
    let mut children = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path().join("children");
        let list = std::fs::read_to_string(path).unwrap_or_default();
        children.extend(list.split_whitespace().map(str::to_owned));
    }
    children
}

#[test]
fn launch_reaps_the_monitors_first_process_and_leaves_no_child() {
    let fx = Fixture::new();
    let spec = fx.spec("c", &["sleep", "1000"]);
    let (pid, _) = fx.start(&spec);
    assert_eq!(children_of_this_process(), Vec::<String>::new());
    fx.kill(pid);
    assert_eq!(wait_exit(&spec).exit_code, 137);
}
