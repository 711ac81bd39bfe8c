//! stack-run's architecture, checked on its sources: five layer folders,
//! from the top `app`, `schedule`, `stack`, `engine`, `model`, whose modules
//! import only from their own layer or lower ones and never in a cycle; short
//! functions; and no big module without unit tests.
//!
//! The checks are pure functions over `(path, text)` pairs, so the unit tests
//! at the end run them on small trees held in memory. They read the code
//! with a small lexer, not a Rust parser: enough to find `crate::`, `self::`
//! and `super::` paths, `fn` items and braces once comments, strings and
//! character literals are blanked out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// stack-run's sources, relative to the package root.
const SRC: &str = "bins/stack-run/";

/// The layers from the bottom up: a module may import from its own layer
/// and the ones before it. The crate root (`main.rs`) ranks above them all.
const LAYERS: [&str; 5] = ["model", "engine", "stack", "schedule", "app"];

const MAX_FN_LINES: usize = 60;
const MAX_UNTESTED_FILE_LINES: usize = 400;

/// One source file: its path (under [`SRC`], or relative to it in the unit
/// tests) and its text.
struct Source {
    path: String,
    text: String,
}

#[test]
fn stack_run_has_no_import_cycles() {
    let cycles = import_cycles(&stack_run_sources());
    assert!(
        cycles.is_empty(),
        "stack-run's modules import each other in a cycle:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn stack_run_imports_follow_the_layer_order() {
    let upward = layer_violations(&stack_run_sources());
    assert!(
        upward.is_empty(),
        "stack-run's layers, bottom up, are {LAYERS:?}; these imports go up:\n{}",
        upward.join("\n")
    );
}

#[test]
fn stack_run_has_no_long_functions() {
    let long = long_functions(&stack_run_sources());
    assert!(
        long.is_empty(),
        "stack-run functions longer than {MAX_FN_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn stack_run_has_no_big_modules_without_unit_tests() {
    let big = big_untested_modules(&stack_run_sources());
    assert!(
        big.is_empty(),
        "stack-run modules over {MAX_UNTESTED_FILE_LINES} lines with no #[cfg(test)]:\n{}",
        big.join("\n")
    );
}

/// Every `.rs` file of stack-run, in a stable order for stable messages.
fn stack_run_sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources: Vec<Source> = walkdir::WalkDir::new(root.join(SRC))
        .into_iter()
        .map(|entry| entry.expect("stack-run's sources are readable"))
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "rs"))
        // A module's unit tests in a file of their own (`#[cfg(test)] mod
        // tests;`) may reach anywhere, as the ones at the end of a file do.
        .filter(|entry| entry.file_name() != "tests.rs")
        .map(|entry| {
            let relative = entry.path().strip_prefix(root).unwrap();
            Source {
                path: relative.to_string_lossy().replace('\\', "/"),
                text: std::fs::read_to_string(entry.path()).unwrap(),
            }
        })
        .collect();
    sources.sort_by(|a, b| a.path.cmp(&b.path));
    assert!(sources.len() > 5, "no stack-run sources under {SRC}");
    sources
}

// ---- Modules and layers ----

/// A module's path from the crate root: `stack/ready.rs` is `[stack, ready]`,
/// `stack/mod.rs` names its folder, `[stack]`, and `main.rs` is `[]`.
fn module_of(path: &str) -> Vec<String> {
    let path = path.strip_prefix(SRC).unwrap_or(path);
    let mut parts: Vec<String> = path
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if parts.last().is_some_and(|last| last == "mod") || parts == ["main"] {
        parts.pop();
    }
    parts
}

fn display(module: &[String]) -> String {
    if module.is_empty() {
        "crate".to_string()
    } else {
        module.join("::")
    }
}

/// A layer's rank (0 for the bottom one); the crate root ranks above all.
/// `None` for a module outside the layer folders.
fn rank(module: &[String]) -> Option<usize> {
    match module.first() {
        None => Some(LAYERS.len()),
        Some(top) => LAYERS.iter().position(|layer| layer == top),
    }
}

fn layer_name(rank: usize) -> &'static str {
    LAYERS.get(rank).copied().unwrap_or("crate root")
}

// ---- Import edges ----

/// One import of a module by another, where it is written.
#[derive(Debug, PartialEq)]
struct Edge {
    path: String,
    line: usize,
    from: Vec<String>,
    to: Vec<String>,
}

impl Edge {
    fn at(&self) -> String {
        format!(
            "{}:{}: {} -> {}",
            self.path,
            self.line,
            display(&self.from),
            display(&self.to)
        )
    }
}

/// Every import between two module files of the tree, in non-test code.
/// Imports of a module's own descendants are left out: a folder's `mod.rs`
/// declaring and re-exporting its children is structure, not dependence.
fn edges(sources: &[Source]) -> Vec<Edge> {
    let modules: BTreeSet<Vec<String>> = sources.iter().map(|s| module_of(&s.path)).collect();
    let mut edges = Vec::new();
    for source in sources {
        let from = module_of(&source.path);
        let code = strip(&source.text);
        for (line, path) in crate_paths(&tokens(non_test(&code)), &from) {
            let edge = Edge {
                path: source.path.clone(),
                line,
                from: from.clone(),
                to: deepest_module(&modules, &path),
            };
            // `use a::{self, B}` names one module twice on one line: one edge.
            if !edge.to.starts_with(&from) && edges.last() != Some(&edge) {
                edges.push(edge);
            }
        }
    }
    edges
}

/// The deepest module file a path names: `crate::stack::ready::Poll` is in
/// `stack/ready.rs`, `crate::stack::Stack` in `stack/mod.rs`.
fn deepest_module(modules: &BTreeSet<Vec<String>>, path: &[String]) -> Vec<String> {
    (0..=path.len())
        .rev()
        .map(|len| path[..len].to_vec())
        .find(|prefix| modules.contains(prefix))
        .unwrap_or_default()
}

/// Imports from a lower layer into a higher one (or into the crate root).
fn layer_violations(sources: &[Source]) -> Vec<String> {
    let mut found = outside_layers(sources);
    for edge in edges(sources) {
        let (Some(from), Some(to)) = (rank(&edge.from), rank(&edge.to)) else {
            continue;
        };
        if to > from {
            let (lower, higher) = (layer_name(from), layer_name(to));
            found.push(format!(
                "{} (layer {lower} imports higher layer {higher})",
                edge.at()
            ));
        }
    }
    found
}

/// Files in no layer folder: the layer rule could not see them.
fn outside_layers(sources: &[Source]) -> Vec<String> {
    sources
        .iter()
        .filter(|source| rank(&module_of(&source.path)).is_none())
        .map(|source| format!("{}: not in a layer folder {LAYERS:?}", source.path))
        .collect()
}

// ---- Cycles ----

/// Every group of modules that import each other in a circle (a strongly
/// connected component of two modules or more), with the edges inside it.
fn import_cycles(sources: &[Source]) -> Vec<String> {
    let edges = edges(sources);
    let mut graph: BTreeMap<&[String], BTreeSet<&[String]>> = BTreeMap::new();
    for edge in &edges {
        graph.entry(&edge.to).or_default();
        graph.entry(&edge.from).or_default().insert(&edge.to);
    }
    let mut found = Vec::new();
    for component in strongly_connected(&graph) {
        let names: Vec<String> = component.iter().map(|m| display(m)).collect();
        found.push(format!("cycle: {}", names.join(", ")));
        let inside = |m: &[String]| component.contains(&m);
        for edge in edges.iter().filter(|e| inside(&e.from) && inside(&e.to)) {
            found.push(format!("    {}", edge.at()));
        }
    }
    found
}

/// Tarjan's algorithm; only components of more than one node are returned.
fn strongly_connected<'a>(
    graph: &BTreeMap<&'a [String], BTreeSet<&'a [String]>>,
) -> Vec<Vec<&'a [String]>> {
    let mut tarjan = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        components: Vec::new(),
    };
    for &node in graph.keys() {
        if !tarjan.index.contains_key(node) {
            tarjan.visit(node);
        }
    }
    tarjan.components
}

struct Tarjan<'g, 'a> {
    graph: &'g BTreeMap<&'a [String], BTreeSet<&'a [String]>>,
    index: BTreeMap<&'a [String], usize>,
    low: BTreeMap<&'a [String], usize>,
    stack: Vec<&'a [String]>,
    components: Vec<Vec<&'a [String]>>,
}

impl<'a> Tarjan<'_, 'a> {
    // Recursion is fine: the graph has a few dozen nodes.
    fn visit(&mut self, node: &'a [String]) {
        let index = self.index.len();
        self.index.insert(node, index);
        self.low.insert(node, index);
        self.stack.push(node);
        for &next in &self.graph[node] {
            if !self.index.contains_key(next) {
                self.visit(next);
                let low = self.low[node].min(self.low[next]);
                self.low.insert(node, low);
            } else if self.stack.contains(&next) {
                let low = self.low[node].min(self.index[next]);
                self.low.insert(node, low);
            }
        }
        if self.low[node] == index {
            let at = self.stack.iter().position(|&n| n == node).unwrap();
            let mut component = self.stack.split_off(at);
            if component.len() > 1 {
                component.sort();
                self.components.push(component);
            }
        }
    }
}

// ---- Function and file lengths ----

/// Every function of non-test code longer than [`MAX_FN_LINES`], counted
/// from the line of `fn name` to the line of its closing brace.
fn long_functions(sources: &[Source]) -> Vec<String> {
    let mut found = Vec::new();
    for source in sources {
        let code = strip(&source.text);
        for (line, name, lines) in function_lengths(&tokens(non_test(&code))) {
            if lines > MAX_FN_LINES {
                found.push(format!("{}:{line} fn {name} ({lines} lines)", source.path));
            }
        }
    }
    found
}

/// Files over [`MAX_UNTESTED_FILE_LINES`] (all lines counted) with no unit tests.
fn big_untested_modules(sources: &[Source]) -> Vec<String> {
    sources
        .iter()
        // Tests at its end, or in a file of their own.
        .filter(|source| !strip(&source.text).contains("#[cfg(test)]"))
        .map(|source| (source, source.text.lines().count()))
        .filter(|&(_, lines)| lines > MAX_UNTESTED_FILE_LINES)
        .map(|(source, lines)| format!("{} ({lines} lines)", source.path))
        .collect()
}

/// Each function with a body: the line of its `fn`, its name, its length in
/// lines. Closures belong to the function they are written in; a function
/// nested in another is counted on its own too.
fn function_lengths(tokens: &[Token]) -> Vec<(usize, String, usize)> {
    let mut found = Vec::new();
    for (at, token) in tokens.iter().enumerate() {
        // `fn` then a name: an item (`fn(u8) -> u8` is a pointer type).
        let Some(name) = tokens.get(at + 1).filter(|name| name.is_ident()) else {
            continue;
        };
        if token.text != "fn" {
            continue;
        }
        if let Some(open) = body_start(tokens, at + 2) {
            let close = matching_brace(tokens, open);
            let last = tokens.get(close).map_or(token.line, |t| t.line);
            found.push((token.line, name.text.clone(), last - token.line + 1));
        }
    }
    found
}

/// The `{` opening a function's body, or `None` for a declaration ending in
/// `;`. Parentheses are skipped so that `impl Fn() -> T` in an argument
/// cannot end the signature early.
fn body_start(tokens: &[Token], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (at, token) in tokens.iter().enumerate().skip(from) {
        match token.text.as_str() {
            "(" | "[" => depth += 1,
            ")" | "]" => depth = depth.saturating_sub(1),
            "{" if depth == 0 => return Some(at),
            ";" if depth == 0 => return None,
            _ => {}
        }
    }
    None
}

/// The index of the `}` closing the `{` at `open` (the last token if none does).
fn matching_brace(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    for (at, token) in tokens.iter().enumerate().skip(open) {
        match token.text.as_str() {
            "{" => depth += 1,
            "}" if depth == 1 => return at,
            "}" => depth -= 1,
            _ => {}
        }
    }
    tokens.len().saturating_sub(1)
}

// ---- Paths in code ----

/// Every path into the crate in the code, as `(line, absolute path)`, for
/// code in module `module`. `crate::`, `self::` and `super::` paths are
/// found in `use` trees and inline alike. Other paths are left out: a bare
/// first segment is an external crate or a child of the module (an import
/// of one's own child is no edge).
fn crate_paths(tokens: &[Token], module: &[String]) -> Vec<(usize, Vec<String>)> {
    let mut scopes = Scopes::new(module);
    let mut found = Vec::new();
    let mut at = 0;
    while at < tokens.len() {
        let token = &tokens[at];
        if starts_path(tokens, at) {
            let mut leaves = Vec::new();
            at = use_tree(tokens, at, Vec::new(), &mut leaves);
            let scope = scopes.current();
            found.extend(leaves.into_iter().filter_map(|(line, path)| {
                absolute(&scope, &path).map(|absolute| (line, absolute))
            }));
            continue;
        }
        scopes.step(tokens, at, token);
        at += 1;
    }
    found
}

/// An identifier followed by `::` that does not continue a path already begun.
fn starts_path(tokens: &[Token], at: usize) -> bool {
    let before = at.checked_sub(1).map(|b| tokens[b].text.as_str());
    tokens[at].is_ident()
        && tokens.get(at + 1).is_some_and(|t| t.text == "::")
        && before != Some("::")
}

/// Read a path or a `use` tree from `at` onwards, pushing each leaf's full
/// path (with the line of its last segment) onto `leaves`; returns the index
/// after it. `a::{b, c::{d, e}}` gives `a::b`, `a::c::d` and `a::c::e`.
fn use_tree(
    tokens: &[Token],
    mut at: usize,
    mut prefix: Vec<String>,
    leaves: &mut Vec<(usize, Vec<String>)>,
) -> usize {
    let mut line = tokens[at].line;
    while let Some(token) = tokens.get(at) {
        if token.is_ident() {
            prefix.push(token.text.clone());
            line = token.line;
            at += 1;
            if tokens.get(at).is_some_and(|t| t.text == "::") {
                at += 1;
                continue;
            }
        } else if token.text == "{" {
            return use_group(tokens, at + 1, &prefix, leaves);
        } else if token.text == "*" {
            at += 1;
        }
        break;
    }
    leaves.push((line, prefix));
    at
}

/// The branches of a `{...}` group starting at `at` (after the brace), up to
/// and including its closing brace.
fn use_group(
    tokens: &[Token],
    mut at: usize,
    prefix: &[String],
    leaves: &mut Vec<(usize, Vec<String>)>,
) -> usize {
    while let Some(token) = tokens.get(at) {
        match token.text.as_str() {
            "}" => return at + 1,
            "," => at += 1,
            // The new name of a renamed branch is no path.
            "as" => at += 2,
            _ if token.is_ident() || token.text == "{" => {
                at = use_tree(tokens, at, prefix.to_vec(), leaves);
            }
            _ => at += 1,
        }
    }
    at
}

/// A path made absolute from the scope it is written in: `crate::` from the
/// root, `self::` from the scope, each `super::` one level up. `None` for
/// any other path (external crates, types, local children).
fn absolute(scope: &[String], path: &[String]) -> Option<Vec<String>> {
    let (first, rest) = path.split_first()?;
    let mut base = match first.as_str() {
        "crate" => Vec::new(),
        "self" | "super" => scope.to_vec(),
        _ => return None,
    };
    let mut rest = rest;
    if first == "super" {
        base.pop()?;
        while let Some(("super", tail)) = rest.split_first().map(|(s, t)| (s.as_str(), t)) {
            base.pop()?;
            rest = tail;
        }
    }
    // `use a::b::{self, C}` names `a::b` itself.
    base.extend(rest.iter().filter(|s| *s != "self").cloned());
    Some(base)
}

/// The module scope at each point of a file: the file's module, and inside
/// `mod name { ... }` that inline module, so that its `super::` means the
/// file's module.
struct Scopes {
    module: Vec<String>,
    depth: usize,
    /// The inline modules open, each with the brace depth inside it.
    inline: Vec<(String, usize)>,
}

impl Scopes {
    fn new(module: &[String]) -> Scopes {
        Scopes {
            module: module.to_vec(),
            depth: 0,
            inline: Vec::new(),
        }
    }

    fn current(&self) -> Vec<String> {
        let inline = self.inline.iter().map(|(name, _)| name.clone());
        self.module.iter().cloned().chain(inline).collect()
    }

    /// Follow the braces; `mod name {` opens an inline module.
    fn step(&mut self, tokens: &[Token], at: usize, token: &Token) {
        match token.text.as_str() {
            "{" => {
                self.depth += 1;
                if let Some(name) = inline_module_name(tokens, at) {
                    self.inline.push((name, self.depth));
                }
            }
            "}" => {
                if self.inline.last().is_some_and(|&(_, d)| d == self.depth) {
                    self.inline.pop();
                }
                self.depth = self.depth.saturating_sub(1);
            }
            _ => {}
        }
    }
}

/// The name of the module that the `{` at `at` opens, if it opens one: `mod name {`.
fn inline_module_name(tokens: &[Token], at: usize) -> Option<String> {
    let keyword = &tokens[at.checked_sub(2)?];
    let name = &tokens[at - 1];
    (keyword.text == "mod" && name.is_ident()).then(|| name.text.clone())
}

// ---- Lexing ----

/// A token of code: an identifier or keyword, `::`, or one other character.
#[derive(Debug)]
struct Token {
    text: String,
    line: usize,
}

impl Token {
    fn is_ident(&self) -> bool {
        self.text
            .starts_with(|c: char| c.is_alphabetic() || c == '_')
    }
}

/// The tokens of code already through [`strip`]; lines count from 1.
fn tokens(code: &str) -> Vec<Token> {
    let chars: Vec<char> = code.chars().collect();
    let mut tokens = Vec::new();
    let (mut at, mut line) = (0, 1);
    while let Some(&c) = chars.get(at) {
        let len = if c.is_alphanumeric() || c == '_' {
            chars[at..]
                .iter()
                .take_while(|c| c.is_alphanumeric() || **c == '_')
                .count()
        } else if c == ':' && chars.get(at + 1) == Some(&':') {
            2
        } else {
            1
        };
        if !c.is_whitespace() {
            let text = chars[at..at + len].iter().collect();
            tokens.push(Token { text, line });
        }
        line += usize::from(c == '\n');
        at += len;
    }
    tokens
}

/// The code before the first `#[cfg(test)]` line: unit tests may reach anywhere.
fn non_test(code: &str) -> &str {
    match test_start(code) {
        Some(offset) => &code[..offset],
        None => code,
    }
}

/// The byte offset of the first line that starts with `#[cfg(test)]`,
/// but one that only declares a file of tests (`mod tests;`): the code after
/// that is still the module's own.
fn test_start(code: &str) -> Option<usize> {
    let mut offset = 0;
    let mut lines = code.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        let mut declares_a_file = || {
            lines.peek().is_some_and(|next| {
                let next = next.trim();
                next.starts_with("mod ") && next.ends_with(';')
            })
        };
        if line.trim_start().starts_with("#[cfg(test)]") && !declares_a_file() {
            return Some(offset);
        }
        offset += line.len();
    }
    None
}

/// The code with comments, strings and character literals turned to spaces,
/// newlines kept so that lines keep their numbers: a doc comment naming
/// `crate::app` is no import, and a `'{'` opens no block.
fn strip(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while at < chars.len() {
        let end = literal_or_comment_end(&chars, at);
        if end == at {
            out.push(chars[at]);
            at += 1;
        } else {
            let blank = |c: &char| if *c == '\n' { '\n' } else { ' ' };
            out.extend(chars[at..end].iter().map(blank));
            at = end;
        }
    }
    out
}

/// Where the comment or literal starting at `at` ends; `at` if none starts there.
fn literal_or_comment_end(chars: &[char], at: usize) -> usize {
    let next = chars.get(at + 1).copied();
    match (chars[at], next) {
        ('/', Some('/')) => find(chars, at, |c| c == '\n'),
        ('/', Some('*')) => block_comment_end(chars, at),
        ('"', _) => quoted_end(chars, at + 1, '"'),
        ('\'', Some('\\')) => quoted_end(chars, at + 1, '\''),
        // A one-character literal; otherwise a lifetime or a label.
        ('\'', Some(_)) if chars.get(at + 2) == Some(&'\'') => at + 3,
        ('r', Some('"' | '#')) if starts_raw_string(chars, at) => raw_string_end(chars, at + 1),
        _ => at,
    }
}

/// Whether the `r` at `at` begins a raw string: it begins a word, or
/// follows the `b` or `c` that begins one (`br"..."`); the `r` ending a
/// word such as `for` begins nothing.
fn starts_raw_string(chars: &[char], at: usize) -> bool {
    let word = |i: usize| chars[i].is_alphanumeric() || chars[i] == '_';
    match at.checked_sub(1) {
        None => true,
        Some(before) if !word(before) => true,
        Some(before) => {
            matches!(chars[before], 'b' | 'c') && before.checked_sub(1).is_none_or(|b| !word(b))
        }
    }
}

/// The index just past the first character from `at` on that `is_end` accepts.
fn find(chars: &[char], at: usize, is_end: impl Fn(char) -> bool) -> usize {
    chars[at..]
        .iter()
        .position(|&c| is_end(c))
        .map_or(chars.len(), |p| at + p + 1)
}

/// Past the quote closing a string or character literal, skipping escapes.
fn quoted_end(chars: &[char], mut at: usize, quote: char) -> usize {
    while let Some(&c) = chars.get(at) {
        match c {
            '\\' => at += 2,
            _ if c == quote => return at + 1,
            _ => at += 1,
        }
    }
    chars.len()
}

/// Past a block comment; they nest in Rust.
fn block_comment_end(chars: &[char], mut at: usize) -> usize {
    let mut depth = 0usize;
    while at + 1 < chars.len() {
        match (chars[at], chars[at + 1]) {
            ('/', '*') => (depth, at) = (depth + 1, at + 2),
            ('*', '/') if depth == 1 => return at + 2,
            ('*', '/') => (depth, at) = (depth - 1, at + 2),
            _ => at += 1,
        }
    }
    chars.len()
}

/// Past a raw string whose `#`s (if any) start at `at`: `r#"..."#`. An `r#`
/// not followed by hashes and a quote is a raw identifier, left as it is.
fn raw_string_end(chars: &[char], at: usize) -> usize {
    let hashes = chars[at..].iter().take_while(|&&c| c == '#').count();
    if chars.get(at + hashes) != Some(&'"') {
        return at - 1;
    }
    let closing: Vec<char> = std::iter::once('"')
        .chain(std::iter::repeat_n('#', hashes))
        .collect();
    let body = at + hashes + 1;
    chars[body..]
        .windows(closing.len())
        .position(|window| window == closing.as_slice())
        .map_or(chars.len(), |p| body + p + closing.len())
}

// ---- Unit tests of the checks, on trees in memory ----

mod fixtures {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> Vec<Source> {
        files
            .iter()
            .map(|(path, text)| Source {
                path: path.to_string(),
                text: text.to_string(),
            })
            .collect()
    }

    /// A small tree that follows every rule.
    fn clean() -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "main.rs",
                "mod app;\nmod model;\nfn main() { app::run::go(); }\n",
            ),
            ("app/mod.rs", "pub mod run;\n"),
            (
                "app/run.rs",
                "use crate::model::verdict::Verdict;\npub fn go() { crate::model::layout::f(); }\n",
            ),
            ("model/mod.rs", "pub mod layout;\npub mod verdict;\n"),
            ("model/layout.rs", "pub fn f() {}\n"),
            (
                "model/verdict.rs",
                "use super::layout;\npub struct Verdict;\n",
            ),
        ]
    }

    fn names(edges: &[Edge]) -> Vec<String> {
        edges.iter().map(Edge::at).collect()
    }

    #[test]
    fn a_clean_tree_passes() {
        let sources = tree(&clean());
        assert_eq!(layer_violations(&sources), Vec::<String>::new());
        assert_eq!(import_cycles(&sources), Vec::<String>::new());
        assert_eq!(
            names(&edges(&sources)),
            [
                "app/run.rs:1: app::run -> model::verdict",
                "app/run.rs:2: app::run -> model::layout",
                "model/verdict.rs:1: model::verdict -> model::layout",
            ]
        );
    }

    #[test]
    fn an_upward_import_fails_and_names_the_edge() {
        let mut files = clean();
        files[4] = (
            "model/layout.rs",
            "//! Layout.\n\nuse crate::app::run::go;\n",
        );
        assert_eq!(
            layer_violations(&tree(&files)),
            ["model/layout.rs:3: model::layout -> app::run (layer model imports higher layer app)"]
        );
    }

    #[test]
    fn a_file_outside_the_layers_fails() {
        let mut files = clean();
        files.push(("misc/mod.rs", ""));
        assert_eq!(
            layer_violations(&tree(&files)),
            [format!("misc/mod.rs: not in a layer folder {LAYERS:?}")]
        );
    }

    #[test]
    fn a_cycle_within_one_layer_fails_and_names_its_modules() {
        let mut files = clean();
        files[4] = (
            "model/layout.rs",
            "fn f() -> crate::model::verdict::Verdict {}\n",
        );
        assert_eq!(
            import_cycles(&tree(&files)),
            [
                "cycle: model::layout, model::verdict",
                "    model/layout.rs:1: model::layout -> model::verdict",
                "    model/verdict.rs:1: model::verdict -> model::layout",
            ]
        );
    }

    #[test]
    fn a_group_import_gives_one_edge_per_module() {
        let mut files = clean();
        files.push(("engine/proc.rs", ""));
        files[1] = (
            "app/mod.rs",
            "use crate::{engine::proc, model::{layout, verdict}};\n",
        );
        assert_eq!(
            names(&edges(&tree(&files))[..3]),
            [
                "app/mod.rs:1: app -> engine::proc",
                "app/mod.rs:1: app -> model::layout",
                "app/mod.rs:1: app -> model::verdict",
            ]
        );
        // `self`, renames, and a group over two lines.
        files[1] = (
            "app/mod.rs",
            "use crate::model::{self, layout as l,\n verdict::{self, Verdict as V}};\n",
        );
        assert_eq!(
            names(&edges(&tree(&files))[..3]),
            [
                "app/mod.rs:1: app -> model",
                "app/mod.rs:1: app -> model::layout",
                "app/mod.rs:2: app -> model::verdict",
            ]
        );
    }

    #[test]
    fn paths_in_comments_strings_and_tests_are_no_edges() {
        let text = r##"//! Called by `crate::app::run`.
/* crate::app /* nested */ crate::app */
fn f() -> char { let _ = ("crate::app::x", r#"crate::app"#); '{' }
#[cfg(test)]
mod tests { use crate::app::run::go; }
"##;
        let mut files = clean();
        files[4] = ("model/layout.rs", text);
        let sources = tree(&files);
        assert!(edges(&sources).iter().all(|e| e.path != "model/layout.rs"));
        assert_eq!(layer_violations(&sources), Vec::<String>::new());
    }

    #[test]
    fn code_after_a_declared_file_of_tests_is_still_checked() {
        let text = "#[cfg(test)]\nmod tests;\nuse crate::app::run::go;\n";
        let mut files = clean();
        files[4] = ("model/layout.rs", text);
        let violations = layer_violations(&tree(&files));
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0].starts_with("model/layout.rs:3: model::layout -> app::run"));
    }

    #[test]
    fn super_in_an_inline_module_means_the_file_module() {
        let code = "mod inner { use super::Thing; use super::super::layout::f; }\n";
        let module = module_of("model/verdict.rs");
        let paths = crate_paths(&tokens(&strip(code)), &module);
        let paths: Vec<String> = paths.iter().map(|(_, p)| p.join("::")).collect();
        assert_eq!(paths, ["model::verdict::Thing", "model::layout::f"]);
    }

    #[test]
    fn paths_resolve_to_the_deepest_module_file() {
        let modules = ["", "stack", "stack/ready"]
            .iter()
            .map(|m| {
                m.split('/')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .collect();
        let resolve = |path: &str| {
            let path: Vec<String> = path.split("::").map(String::from).collect();
            display(&deepest_module(&modules, &path))
        };
        assert_eq!(resolve("stack::ready::Poll"), "stack::ready");
        assert_eq!(resolve("stack::Stack"), "stack");
        assert_eq!(resolve("helper"), "crate");
        assert_eq!(module_of("bins/stack-run/stack/mod.rs"), ["stack"]);
        assert_eq!(module_of("main.rs"), Vec::<String>::new());
    }

    #[test]
    fn function_lengths_are_counted_from_fn_to_its_closing_brace() {
        let code = [
            "trait T { fn declared(&self); }",
            "pub fn outer(f: impl Fn() -> u8) -> u8 {",
            "    let c = |x: u8| {",
            "        x + 1 // }",
            "    };",
            "    fn inner() {}",
            "    c(f())",
            "}",
            "fn one() -> char { let _ = \"}\"; '}' }",
        ]
        .join("\n");
        let lengths = function_lengths(&tokens(&strip(&code)));
        let expected = [(2, "outer", 7), (6, "inner", 1), (9, "one", 1)];
        let expected: Vec<_> = expected.map(|(l, n, c)| (l, n.to_string(), c)).into();
        assert_eq!(lengths, expected);
    }

    #[test]
    fn long_functions_and_big_untested_files_are_named() {
        let function = |name: &str, lines: usize| {
            let body = "    step();\n".repeat(lines - 2);
            format!("fn {name}() {{\n{body}}}\n")
        };
        let code = function("fits", MAX_FN_LINES) + &function("long", MAX_FN_LINES + 1);
        let big = "\n".repeat(MAX_UNTESTED_FILE_LINES + 1);
        let tested = format!("{big}#[cfg(test)]\nmod tests {{}}\n");
        let small = "\n".repeat(MAX_UNTESTED_FILE_LINES);
        let sources = tree(&[
            ("model/code.rs", code.as_str()),
            ("model/big.rs", big.as_str()),
            ("model/tested.rs", tested.as_str()),
            ("model/small.rs", small.as_str()),
        ]);
        assert_eq!(
            long_functions(&sources),
            [format!(
                "model/code.rs:{0} fn long ({0} lines)",
                MAX_FN_LINES + 1
            )]
        );
        assert_eq!(
            big_untested_modules(&sources),
            [format!(
                "model/big.rs ({} lines)",
                MAX_UNTESTED_FILE_LINES + 1
            )]
        );
    }
}
