//! The result table (printed and written into BENCHMARKS.md) and its chart (an SVG drawn
//! by hand from the same rows).

use std::fmt::Write as _;

/// How a row's values read.
#[derive(Clone, Copy, Debug)]
pub enum Unit {
    Ms,
    Mb,
    /// Thousands of bytes (package sizes).
    Kb,
    Count,
    /// A share between 0 and 1 (recall, MRR).
    #[allow(dead_code)] // Only the knowledge benchmark (src/knowledge.rs) reports one.
    Share,
}

/// What a row must achieve.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// value / floor at most this.
    Ratio(f64),
    /// value / floor at least this (a quality against a peer's).
    #[allow(dead_code)] // Only the knowledge benchmark (src/knowledge.rs) sets one.
    RatioAtLeast(f64),
    /// value − floor below this many milliseconds.
    AddedMs(f64),
    /// value at most this (in the row's unit).
    AtMost(f64),
    /// None: the row is reported for what it shows.
    None,
}

/// One measured figure against its floor.
#[derive(Clone, Debug)]
pub struct Row {
    pub section: &'static str,
    pub name: String,
    pub value: f64,
    pub floor: f64,
    pub floor_name: String,
    pub unit: Unit,
    pub target: Target,
}

impl Row {
    pub fn ratio(&self) -> f64 {
        if self.floor > 0.0 {
            self.value / self.floor
        } else {
            f64::NAN
        }
    }

    /// The target expressed as a ratio to this row's floor, for the chart.
    pub fn target_ratio(&self) -> f64 {
        match self.target {
            Target::Ratio(r) | Target::RatioAtLeast(r) => r,
            Target::AddedMs(ms) => (self.floor + ms) / self.floor,
            Target::AtMost(max) => max / self.floor,
            Target::None => f64::NAN,
        }
    }

    /// Whether the row has a target at all.
    pub fn has_target(&self) -> bool {
        !matches!(self.target, Target::None)
    }

    /// Whether the target is met (false for a row without one).
    pub fn met(&self) -> bool {
        match self.target {
            Target::Ratio(r) => self.ratio() <= r,
            Target::RatioAtLeast(r) => self.ratio() >= r,
            Target::AddedMs(ms) => self.value - self.floor < ms,
            Target::AtMost(max) => self.value <= max,
            Target::None => false,
        }
    }

    fn target_text(&self) -> String {
        match self.target {
            Target::Ratio(r) => format!("≤ {}", fmt_ratio(r)),
            Target::RatioAtLeast(r) => format!("≥ {}", fmt_ratio(r)),
            Target::AddedMs(ms) => format!("< +{ms} ms"),
            Target::AtMost(max) => format!("≤ {}", fmt(max, self.unit)),
            Target::None => "—".into(),
        }
    }

    fn met_text(&self) -> &'static str {
        match (self.has_target(), self.met()) {
            (false, _) => "—",
            (true, true) => "yes",
            (true, false) => "**no**",
        }
    }
}

/// How many rows have a target, and how many of those meet it.
pub fn tally(rows: &[Row]) -> (usize, usize) {
    let targeted = rows.iter().filter(|r| r.has_target()).count();
    (rows.iter().filter(|r| r.met()).count(), targeted)
}

fn fmt(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Ms if v < 10.0 => format!("{v:.3} ms"),
        Unit::Ms => format!("{v:.1} ms"),
        Unit::Mb => format!("{v:.2} MB"),
        Unit::Kb if v.abs() < 1e3 => format!("{v:.1} kB"),
        Unit::Kb => format!("{} kB", grouped(v)),
        Unit::Count => format!("{v:.0}"),
        Unit::Share => format!("{v:.3}"),
    }
}

/// A number rounded to a whole one, its thousands separated by commas: 14,607.
pub fn grouped(v: f64) -> String {
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 && digits != "0" {
        out.insert(0, '-');
    }
    out
}

/// A ratio with the digits it needs: 0.012×, 0.45×, 3.28×, and 1.003× rather than a 1.00×
/// that would hide which side of a 1× target it is on.
fn fmt_ratio(r: f64) -> String {
    if r.is_finite() && ((r.abs() < 0.1 && r != 0.0) || ((r - 1.0).abs() < 0.005 && r != 1.0)) {
        format!("{r:.3}×")
    } else {
        format!("{r:.2}×")
    }
}

/// The table, in Markdown (it reads as plain text too).
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str("| # | measure | value | floor or peer | ratio | added | target | met |\n");
    out.push_str("|---|---|---:|---|---:|---:|---|---|\n");
    for row in rows {
        let added = match row.unit {
            Unit::Ms => format!("{:+.3} ms", row.value - row.floor),
            Unit::Mb => format!("{:+.2} MB", row.value - row.floor),
            Unit::Kb => {
                let added = row.value - row.floor;
                format!(
                    "{}{} kB",
                    if added < 0.0 { "" } else { "+" },
                    grouped(added)
                )
            }
            Unit::Count => format!("{:+.0}", row.value - row.floor),
            Unit::Share => format!("{:+.3}", row.value - row.floor),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} ({}) | {} | {} | {} | {} |",
            row.section,
            row.name,
            fmt(row.value, row.unit),
            fmt(row.floor, row.unit),
            row.floor_name,
            fmt_ratio(row.ratio()),
            added,
            row.target_text(),
            row.met_text(),
        );
    }
    out
}

/// A horizontal bar chart of every row's ratio on a log scale, each bar drawn from 1× (to
/// the left for a ratio below one, as against a peer), with its target marked.
pub fn svg(rows: &[Row], title: &str) -> String {
    // Wide enough for the longest label at about 6.5 px a character of 12 px sans-serif.
    let longest = rows
        .iter()
        .map(|r| r.section.chars().count() + 1 + r.name.chars().count())
        .max()
        .unwrap_or(0);
    let label_w = (longest as f64 * 6.5 + 20.0).max(300.0);
    let (plot_w, bar_h, gap, top) = (520.0, 16.0, 6.0, 58.0);
    let height = top + rows.len() as f64 * (bar_h + gap) + 50.0;
    let width = label_w + plot_w + 90.0;
    let (min, max) = scale(rows);
    let (lo, hi) = (min.ln(), max.ln());
    let x = |v: f64| label_w + (v.clamp(min, max).ln() - lo) / (hi - lo) * plot_w;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<rect width="100%" height="100%" fill="white"/><text x="10" y="22" font-size="15" font-weight="bold">{}</text>"#,
        escape(title)
    );
    let _ = writeln!(
        s,
        r##"<text x="10" y="40" fill="#555">ratio to the floor or the peer measured in the same run (log scale); black tick: target; green: met, red: not met, grey: no target</text>"##
    );
    for tick in ticks(min, max) {
        let tx = x(tick);
        let _ = writeln!(
            s,
            r##"<line x1="{tx:.1}" y1="{top}" x2="{tx:.1}" y2="{:.1}" stroke="#ddd"/><text x="{tx:.1}" y="{:.1}" text-anchor="middle" fill="#555">{tick}×</text>"##,
            height - 40.0,
            height - 26.0
        );
    }
    let one = x(1.0);
    for (i, row) in rows.iter().enumerate() {
        let y = top + i as f64 * (bar_h + gap);
        let ratio = row.ratio();
        let color = match (row.has_target(), row.met()) {
            (false, _) => "#8a8f98",
            (true, true) => "#3a9d5d",
            (true, false) => "#d0463c",
        };
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{} {}</text>"#,
            label_w - 8.0,
            y + bar_h - 4.0,
            row.section,
            escape(&row.name)
        );
        if ratio.is_finite() {
            let (from, to) = (one.min(x(ratio)), one.max(x(ratio)));
            let _ = writeln!(
                s,
                r#"<rect x="{from:.1}" y="{y:.1}" width="{:.1}" height="{bar_h}" fill="{color}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
                (to - from).max(1.0),
                to + 4.0,
                y + bar_h - 4.0,
                fmt_ratio(ratio)
            );
        }
        let target = row.target_ratio();
        if target.is_finite() {
            let tx = x(target);
            let _ = writeln!(
                s,
                r#"<line x1="{tx:.1}" y1="{:.1}" x2="{tx:.1}" y2="{:.1}" stroke="black" stroke-width="2"/>"#,
                y - 2.0,
                y + bar_h + 2.0
            );
        }
    }
    let _ = writeln!(
        s,
        r##"<line x1="{one:.1}" y1="{top}" x2="{one:.1}" y2="{:.1}" stroke="#333" stroke-dasharray="3,3"/>"##,
        height - 40.0
    );
    s.push_str("</svg>\n");
    s
}

/// The chart's range: every ratio and target, with a margin, at least 0.5× to 2×.
fn scale(rows: &[Row]) -> (f64, f64) {
    let values = || {
        rows.iter()
            .flat_map(|r| [r.ratio(), r.target_ratio()])
            .filter(|v| v.is_finite() && *v > 0.0)
    };
    let min = values().fold(0.5_f64, f64::min).max(1e-4) / 1.2;
    let max = values().fold(2.0_f64, f64::max).min(1e4) * 1.2;
    (min, max)
}

/// Grid lines: 1, 2 and 5 of every power of ten within `min..=max`; only the powers of ten
/// when the range spans more than three of them.
fn ticks(min: f64, max: f64) -> Vec<f64> {
    let steps: &[f64] = if max / min > 1e3 {
        &[1.0]
    } else {
        &[1.0, 2.0, 5.0]
    };
    let mut out = Vec::new();
    let mut decade = 10f64.powi(min.log10().floor() as i32);
    while decade <= max {
        for step in steps {
            let tick = step * decade;
            if tick >= min && tick <= max {
                // Rounded so that 0.1 prints as 0.1, not 0.1000000001.
                out.push((tick * 1e6).round() / 1e6);
            }
        }
        decade *= 10.0;
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Replaces what lies between `<!-- bench:begin -->` and `<!-- bench:end -->` in `doc`.
pub fn splice(doc: &str, content: &str) -> Option<String> {
    const BEGIN: &str = "<!-- bench:begin -->";
    const END: &str = "<!-- bench:end -->";
    let start = doc.find(BEGIN)? + BEGIN.len();
    let end = doc[start..].find(END)? + start;
    Some(format!("{}\n{}{}", &doc[..start], content, &doc[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(value: f64, floor: f64, target: Target) -> Row {
        Row {
            section: "6",
            name: "cold start to first poll: get-conversation vs node-get".into(),
            value,
            floor,
            floor_name: "node-get".into(),
            unit: Unit::Ms,
            target,
        }
    }

    #[test]
    fn a_tenth_of_the_peer_is_met_at_a_tenth_and_not_above() {
        assert!(row(17.0, 170.0, Target::Ratio(0.1)).met());
        assert!(!row(17.5, 170.0, Target::Ratio(0.1)).met());
        assert!(row(203.0, 204.0, Target::Ratio(1.0)).met());
        assert_eq!(fmt_ratio(26.5 / 26.4), "1.004×");
        assert_eq!(fmt_ratio(1.0), "1.00×");
        assert_eq!(fmt_ratio(0.45), "0.45×");
        assert!(!row(205.0, 204.0, Target::Ratio(1.0)).met());
    }

    #[test]
    fn rows_without_a_target_are_not_counted_and_read_as_a_dash() {
        let rows = [
            row(2.0, 170.0, Target::Ratio(0.1)),
            row(30.0, 170.0, Target::Ratio(0.1)),
            row(2.0, 500.0, Target::None),
        ];
        assert_eq!(tally(&rows), (1, 2));
        let table = table(&rows);
        let last = table.lines().last().unwrap();
        assert!(last.ends_with("| — | — |"), "{last}");
        assert!(last.contains("| 0.004× |"), "{last}");
        assert!(table.lines().nth(2).unwrap().ends_with("| ≤ 0.10× | yes |"));
        assert!(
            table
                .lines()
                .nth(3)
                .unwrap()
                .ends_with("| ≤ 0.10× | **no** |")
        );
    }

    #[test]
    fn the_chart_spans_ratios_far_below_one_and_skips_missing_targets() {
        let rows = [
            row(2.0, 200.0, Target::Ratio(0.1)),
            row(30.0, 10.0, Target::None),
        ];
        let (min, max) = scale(&rows);
        assert!(min < 0.01 && max > 3.0, "{min} {max}");
        let svg = svg(&rows, "t");
        // One target tick (black), two bars, and a grid line at 0.01×.
        assert_eq!(svg.matches(r#"stroke="black""#).count(), 1);
        assert_eq!(svg.matches("<rect x=").count(), 2);
        assert!(svg.contains(">0.01×<"), "{svg}");
        assert!(svg.contains(">0.010×<"));
        // Every label starts inside the picture.
        let name_len = rows[0].name.chars().count() as f64;
        let label_end: f64 = svg
            .split(r#"<text x=""#)
            .find(|t| t.contains(&rows[0].name))
            .and_then(|t| t.split('"').next())
            .and_then(|x| x.parse().ok())
            .unwrap();
        assert!(label_end - name_len * 6.5 > 0.0, "{label_end}");
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(grouped(14_607.0), "14,607");
        assert_eq!(grouped(-2_922.2), "-2,922");
        assert_eq!(grouped(112.8), "113");
        assert_eq!(grouped(1_000_000.0), "1,000,000");
        assert_eq!(fmt(112.8, Unit::Kb), "112.8 kB");
        assert_eq!(fmt(2_512.4, Unit::Kb), "2,512 kB");
    }

    #[test]
    fn grid_lines_fall_on_one_two_and_five() {
        assert_eq!(ticks(0.4, 12.0), vec![0.5, 1.0, 2.0, 5.0, 10.0]);
        assert_eq!(ticks(0.004, 30.0), vec![0.01, 0.1, 1.0, 10.0]);
    }

    #[test]
    fn splice_replaces_only_between_the_markers() {
        let doc = "a\n<!-- bench:begin -->\nold\n<!-- bench:end -->\nb\n";
        assert_eq!(
            splice(doc, "new\n").unwrap(),
            "a\n<!-- bench:begin -->\nnew\n<!-- bench:end -->\nb\n"
        );
        assert_eq!(splice("no markers", "x"), None);
    }
}
