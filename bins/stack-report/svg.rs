//! The SVG timeline: one bar per shard on a time axis, start-up, tests and
//! teardown (then the rerun's) side by side, widths proportional to seconds.
//! Batches run by `stack-run --stacks` go on their stack's row instead, one
//! after another: a row per stack, a segment run per batch. A seeded run's
//! seed gets a row of its own on top, so the minutes before the first shard
//! started are seen, not hidden.
//!
//! Small enough to embed anywhere: a few kilobytes, no scripts, no external
//! fonts (the generic `sans-serif`), colours in one `<style>`; each segment
//! carries a `<title>`, which browsers show on hover.

use std::collections::BTreeMap;
use std::fmt::Write;

use shared::results::{SeedResult, ShardResult, Status};

use crate::markdown::{busy, seconds};

const WIDTH: f64 = 720.0;
/// Room for the `shard K` (or `stack K`) labels on the left.
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 8.0;
const ROW: f64 = 22.0;
const BAR: f64 = 14.0;
const AXIS: f64 = 26.0;
const LEGEND: f64 = 22.0;

// A thin white edge tells apart the segments of one colour that batches put side by side.
const STYLE: &str = "text{font:11px sans-serif;fill:#333}rect{stroke:#fff;stroke-width:.5}\
.up{fill:#74c0fc}.down{fill:#ced4da}.passed{fill:#40c057}.failed{fill:#fa5252}\
.error{fill:#fd7e14}.timeout{fill:#be4bdb}.interrupted{fill:#868e96}\
.rerun{fill-opacity:.6}.axis{stroke:#adb5bd;stroke-width:1}.seed{fill:#fab005}";

/// One segment of a shard's bar.
struct Segment {
    class: String,
    what: String,
    start: f64,
    seconds: f64,
}

/// One row of the timeline: a shard, or a stack and the batches it ran.
struct Row<'a> {
    label: String,
    results: Vec<&'a ShardResult>,
}

/// A row per shard; a row per stack when the results are batches (those a
/// stop kept from starting ran nowhere and have no row).
fn rows(results: &[ShardResult]) -> Vec<Row<'_>> {
    if results.iter().all(|r| r.stack.is_none()) {
        return results
            .iter()
            .map(|r| Row {
                label: format!("shard {}", r.shard),
                results: vec![r],
            })
            .collect();
    }
    let mut stacks: BTreeMap<u32, Vec<&ShardResult>> = BTreeMap::new();
    for result in results {
        if let Some(stack) = result.stack {
            stacks.entry(stack).or_default().push(result);
        }
    }
    stacks
        .into_iter()
        .map(|(stack, results)| Row {
            label: format!("stack {stack}"),
            results,
        })
        .collect()
}

pub fn timeline(results: &[ShardResult], seeds: &[SeedResult]) -> String {
    let seed_starts = seeds.iter().map(|seed| seed.started_seconds);
    let origin = results
        .iter()
        .map(start_of)
        .chain(seed_starts)
        .reduce(f64::min)
        .unwrap_or(0.0);
    let seed_ends = seeds.iter().map(|seed| seed.started_seconds + seed.seconds);
    let end = results
        .iter()
        .map(|r| start_of(r) + busy(r))
        .chain(seed_ends)
        .fold(origin, f64::max);
    let span = (end - origin).max(0.001);
    let scale = (WIDTH - LEFT - RIGHT) / span;
    let batches = results.iter().any(|r| r.stack.is_some());
    let rows = rows(results);
    let axis_y = TOP + ROW * (seeds.len() + rows.len()) as f64 + 4.0;
    let height = axis_y + AXIS + LEGEND;

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" role=\"img\"><title>{n} {unit}, {span}</title>\
         <style>{STYLE}</style>",
        w = num(WIDTH),
        h = num(height),
        n = results.len(),
        unit = match (batches, results.len()) {
            (false, 1) => "shard",
            (false, _) => "shards",
            (true, 1) => "batch",
            (true, _) => "batches",
        },
        span = seconds(span),
    );
    for (number, seed) in seeds.iter().enumerate() {
        let y = TOP + ROW * number as f64;
        seed_row(
            &mut svg,
            seed,
            number,
            y,
            LEFT + (seed.started_seconds - origin) * scale,
            scale,
        );
    }
    for (number, row) in rows.iter().enumerate() {
        let y = TOP + ROW * (seeds.len() + number) as f64;
        let _ = write!(
            svg,
            "<g id=\"{id}\"><text x=\"{x}\" y=\"{ty}\" text-anchor=\"end\">{label}</text>",
            id = row.label.replace(' ', "-"),
            label = row.label,
            x = num(LEFT - 6.0),
            ty = num(y + BAR - 3.0),
        );
        for result in &row.results {
            let name = match result.stack {
                Some(_) => format!("batch {}", result.shard),
                None => format!("shard {}", result.shard),
            };
            for segment in segments(result) {
                let _ = write!(
                    svg,
                    "<rect class=\"{class}\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{BAR}\">\
                     <title>{name} {what}: {secs}</title></rect>",
                    class = segment.class,
                    x = num(LEFT + (segment.start - origin) * scale),
                    y = num(y),
                    w = num(segment.seconds * scale),
                    what = segment.what,
                    secs = seconds(segment.seconds),
                );
            }
        }
        svg.push_str("</g>\n");
    }
    axis(&mut svg, span, scale, axis_y);
    legend(&mut svg, height - 6.0);
    svg.push_str("</svg>\n");
    svg
}

/// The seed's row: one segment, the seed's colour once made or found, its
/// status's when it failed.
fn seed_row(svg: &mut String, seed: &SeedResult, number: usize, y: f64, x: f64, scale: f64) {
    let label = match number {
        0 => "seed".to_string(),
        _ => format!("seed {}", number + 1),
    };
    let class = match seed.status {
        Status::Passed => "seed".to_string(),
        status => status.to_string(),
    };
    let what = match (seed.status, seed.reused) {
        (Status::Passed, true) => "found".to_string(),
        (Status::Passed, false) => "made".to_string(),
        (status, _) => status.to_string(),
    };
    let key = seed.seed.as_deref().unwrap_or("–");
    let _ = writeln!(
        svg,
        "<g id=\"{id}\"><text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{label}</text>\
         <rect class=\"{class}\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{BAR}\">\
         <title>seed {key} {what}: {secs}</title></rect></g>",
        id = label.replace(' ', "-"),
        lx = num(LEFT - 6.0),
        ty = num(y + BAR - 3.0),
        x = num(x),
        y = num(y),
        w = num(seed.seconds * scale),
        secs = seconds(seed.seconds),
    );
}

fn start_of(result: &ShardResult) -> f64 {
    result.started_seconds.unwrap_or(0.0)
}

/// A shard's segments, in time order; empty ones left out.
fn segments(result: &ShardResult) -> Vec<Segment> {
    let mut at = start_of(result);
    let mut segments = Vec::new();
    let mut push = |class: String, what: String, seconds: f64| {
        if seconds > 0.0 {
            segments.push(Segment {
                class,
                what,
                start: at,
                seconds,
            });
        }
        at += seconds;
    };
    let first = &result.first;
    let status = first.status;
    push("up".into(), "start-up".into(), first.up_seconds);
    push(
        status.to_string(),
        format!("tests ({status})"),
        first.run_seconds,
    );
    push("down".into(), "teardown".into(), first.down_seconds);
    if let Some(rerun) = &result.rerun {
        let status = rerun.status;
        push("up rerun".into(), "rerun start-up".into(), rerun.up_seconds);
        push(
            format!("{status} rerun"),
            format!("rerun tests ({status})"),
            rerun.run_seconds,
        );
        push(
            "down rerun".into(),
            "rerun teardown".into(),
            rerun.down_seconds,
        );
    }
    segments
}

/// The time axis: a line, and ticks at a round step.
fn axis(svg: &mut String, span: f64, scale: f64, y: f64) {
    let _ = write!(
        svg,
        "<g><line class=\"axis\" x1=\"{x1}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\"/>",
        x1 = num(LEFT),
        x2 = num(LEFT + span * scale),
        y = num(y),
    );
    let step = tick_step(span);
    // Counted, not accumulated: ticks stay exact and the loop ends whatever the span.
    let ticks = (span / step + 1e-9).floor().min(100.0) as u32;
    for tick in (0..=ticks).map(|i| f64::from(i) * step) {
        let x = num(LEFT + tick * scale);
        let _ = write!(
            svg,
            "<line class=\"axis\" x1=\"{x}\" y1=\"{y1}\" x2=\"{x}\" y2=\"{y2}\"/>\
             <text x=\"{x}\" y=\"{ty}\" text-anchor=\"middle\">{label}</text>",
            y1 = num(y),
            y2 = num(y + 4.0),
            ty = num(y + 16.0),
            label = tick_label(tick, step),
        );
    }
    svg.push_str("</g>\n");
}

/// 1, 2 or 5 times a power of ten: about six ticks over the span.
fn tick_step(span: f64) -> f64 {
    let raw = span / 6.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&step| step >= raw)
        .unwrap_or(10.0 * magnitude)
}

fn tick_label(tick: f64, step: f64) -> String {
    if step >= 60.0 && (tick % 60.0).abs() < 1e-9 {
        format!("{} min", num(tick / 60.0))
    } else {
        format!("{} s", num(tick))
    }
}

fn legend(svg: &mut String, y: f64) {
    let items = [
        ("up", "start-up"),
        ("passed", "passed"),
        ("failed", "failed"),
        ("error", "error"),
        ("timeout", "timeout"),
        ("down", "teardown"),
        ("passed rerun", "rerun (lighter)"),
        ("seed", "seed"),
    ];
    svg.push_str("<g>");
    let mut x = LEFT;
    for (class, label) in items {
        let _ = write!(
            svg,
            "<rect class=\"{class}\" x=\"{rx}\" y=\"{ry}\" width=\"10\" height=\"10\"/>\
             <text x=\"{tx}\" y=\"{y}\">{label}</text>",
            rx = num(x),
            ry = num(y - 9.0),
            tx = num(x + 14.0),
            y = num(y),
        );
        x += 14.0 + 7.0 * label.len() as f64 + 12.0;
    }
    svg.push_str("</g>\n");
}

/// A coordinate: at most two decimals, no trailing zeros.
fn num(value: f64) -> String {
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(60.0), 10.0);
        assert_eq!(tick_step(222.0), 50.0);
        assert_eq!(tick_step(9.0), 2.0);
        assert_eq!(tick_label(120.0, 60.0), "2 min");
        assert_eq!(tick_label(2.5, 0.5), "2.5 s");
        assert_eq!(num(12.0), "12");
        assert_eq!(num(0.126), "0.13");
        assert_eq!(num(-0.001), "0");
    }
}
