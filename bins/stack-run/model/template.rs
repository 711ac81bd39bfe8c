//! The command template: `{tests}`, `{out}`, `{shard}`, `{shards}` and
//! `{stack}` filled in per shard. Each argument stays one argument: nothing is split or
//! handed to a shell, so test ids and paths cannot inject anything.

/// The values of the placeholders for one shard.
pub struct Vars<'a> {
    /// `{tests}`: the id file's path inside the container.
    pub tests_file: &'a str,
    /// `{out}`: the attempt's folder inside the container.
    pub out_folder: &'a str,
    /// `{shard}`
    pub shard: u32,
    /// `{shards}`: how many the plan has.
    pub shard_count: u32,
    /// `{stack}`: the stack it runs in (with --stacks; else the shard's own, `{shard}`).
    pub stack: u32,
}

/// Fill in every placeholder of one argument; other braces stay as they are.
pub fn expand(arg: &str, vars: &Vars) -> String {
    arg.replace("{tests}", vars.tests_file)
        .replace("{out}", vars.out_folder)
        .replace("{shards}", &vars.shard_count.to_string())
        .replace("{shard}", &vars.shard.to_string())
        .replace("{stack}", &vars.stack.to_string())
}

/// The placeholders, each of which names something of one shard.
const PLACEHOLDERS: [&str; 5] = ["{tests}", "{out}", "{shards}", "{shard}", "{stack}"];

/// Whether `arg` names something of one shard.
pub fn is_per_shard(arg: &str) -> bool {
    PLACEHOLDERS
        .iter()
        .any(|placeholder| arg.contains(placeholder))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_every_placeholder_and_keeps_other_braces() {
        let vars = Vars {
            tests_file: "/shardstack/out/tests.txt",
            out_folder: "/shardstack/out",
            shard: 2,
            shard_count: 4,
            stack: 1,
        };
        let args = [
            "@{tests}",
            "--junit-xml={out}/junit.xml",
            "-k {x}",
            "{shard}/{shards}",
            "stack-{stack}",
        ];
        let expanded: Vec<String> = args.iter().map(|a| expand(a, &vars)).collect();
        assert_eq!(args.iter().filter(|a| is_per_shard(a)).count(), 4);
        assert_eq!(
            expanded,
            [
                "@/shardstack/out/tests.txt",
                "--junit-xml=/shardstack/out/junit.xml",
                "-k {x}",
                "2/4",
                "stack-1"
            ]
        );
    }
}
