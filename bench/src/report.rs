//! The result table (printed and written into BENCHMARKS.md) and its chart (an SVG drawn
//! by hand from the same rows).

use std::fmt::Write as _;

/// How a row's values read.
#[derive(Clone, Copy, Debug)]
pub enum Unit {
    Ms,
    Mb,
    Count,
}

/// What a row must achieve.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// value / floor at most this.
    Ratio(f64),
    /// value − floor below this many milliseconds.
    AddedMs(f64),
    /// value at most this (in the row's unit).
    AtMost(f64),
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
            Target::Ratio(r) => r,
            Target::AddedMs(ms) => (self.floor + ms) / self.floor,
            Target::AtMost(max) => max / self.floor,
        }
    }

    pub fn met(&self) -> bool {
        match self.target {
            Target::Ratio(r) => self.ratio() <= r,
            Target::AddedMs(ms) => self.value - self.floor < ms,
            Target::AtMost(max) => self.value <= max,
        }
    }

    fn target_text(&self) -> String {
        match self.target {
            Target::Ratio(r) => format!("≤ {r:.2}×"),
            Target::AddedMs(ms) => format!("< +{ms} ms"),
            Target::AtMost(max) => format!("≤ {}", fmt(max, self.unit)),
        }
    }
}

fn fmt(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Ms if v < 10.0 => format!("{v:.3} ms"),
        Unit::Ms => format!("{v:.1} ms"),
        Unit::Mb => format!("{v:.2} MB"),
        Unit::Count => format!("{v:.0}"),
    }
}

/// The table, in Markdown (it reads as plain text too).
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str("| # | measure | value | floor | ratio | added | target | met |\n");
    out.push_str("|---|---|---:|---|---:|---:|---|---|\n");
    for row in rows {
        let added = match row.unit {
            Unit::Ms => format!("{:+.3} ms", row.value - row.floor),
            Unit::Mb => format!("{:+.2} MB", row.value - row.floor),
            Unit::Count => format!("{:+.0}", row.value - row.floor),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} ({}) | {:.2}× | {} | {} | {} |",
            row.section,
            row.name,
            fmt(row.value, row.unit),
            fmt(row.floor, row.unit),
            row.floor_name,
            row.ratio(),
            added,
            row.target_text(),
            if row.met() { "yes" } else { "**no**" },
        );
    }
    out
}

/// A horizontal bar chart of every row's ratio on a log scale, with its target marked.
pub fn svg(rows: &[Row], title: &str) -> String {
    let (label_w, plot_w, bar_h, gap, top) = (430.0, 520.0, 16.0, 6.0, 58.0);
    let height = top + rows.len() as f64 * (bar_h + gap) + 50.0;
    let width = label_w + plot_w + 90.0;
    let max = rows
        .iter()
        .flat_map(|r| [r.ratio(), r.target_ratio()])
        .filter(|v| v.is_finite())
        .fold(2.0_f64, f64::max)
        .min(1e4);
    let (lo, hi) = (0.5_f64.ln(), (max * 1.2).ln());
    let x = |v: f64| label_w + (v.max(0.5).ln() - lo) / (hi - lo) * plot_w;
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
        r##"<text x="10" y="40" fill="#555">ratio to the floor measured in the same run (log scale); black tick: target; green: met, red: not met</text>"##
    );
    let mut tick = 0.5;
    while tick <= max * 1.2 {
        let tx = x(tick);
        let _ = writeln!(
            s,
            r##"<line x1="{tx:.1}" y1="{top}" x2="{tx:.1}" y2="{:.1}" stroke="#ddd"/><text x="{tx:.1}" y="{:.1}" text-anchor="middle" fill="#555">{tick}×</text>"##,
            height - 40.0,
            height - 26.0
        );
        tick *= 2.0;
    }
    for (i, row) in rows.iter().enumerate() {
        let y = top + i as f64 * (bar_h + gap);
        let ratio = row.ratio();
        let color = if row.met() { "#3a9d5d" } else { "#d0463c" };
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{} {}</text>"#,
            label_w - 8.0,
            y + bar_h - 4.0,
            row.section,
            escape(&row.name)
        );
        if ratio.is_finite() {
            let _ = writeln!(
                s,
                r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{bar_h}" fill="{color}"/><text x="{:.1}" y="{:.1}">{ratio:.2}×</text>"#,
                x(0.5),
                (x(ratio) - x(0.5)).max(1.0),
                x(ratio) + 4.0,
                y + bar_h - 4.0
            );
        }
        let tx = x(row.target_ratio());
        let _ = writeln!(
            s,
            r#"<line x1="{tx:.1}" y1="{:.1}" x2="{tx:.1}" y2="{:.1}" stroke="black" stroke-width="2"/>"#,
            y - 2.0,
            y + bar_h + 2.0
        );
    }
    let one = x(1.0);
    let _ = writeln!(
        s,
        r##"<line x1="{one:.1}" y1="{top}" x2="{one:.1}" y2="{:.1}" stroke="#333" stroke-dasharray="3,3"/>"##,
        height - 40.0
    );
    s.push_str("</svg>\n");
    s
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
