//! Reading a CRM's CSV export: encoding, delimiter, header, rows; which column feeds
//! which field; and turning one row into a persona or campaign, or the reason it is
//! skipped. Pure functions, so every rule is unit-tested without a database.

use serde::{Deserialize, Serialize};

/// Uploads larger than this are refused before they are read.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;
/// Rows per import (files over `BACKGROUND_ROWS` import as a background job).
pub const MAX_ROWS: usize = 5000;
/// Columns in the header line. CRM exports carry dozens; a header of thousands is an
/// attack on the server's memory, not an export.
pub const MAX_COLUMNS: usize = 200;
/// Bytes of the header line.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Bytes of one cell (the longest field, a persona's goals, takes 2,000 characters).
pub const MAX_CELL_BYTES: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImportKind {
    Personas,
    Campaigns,
}

impl ImportKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "personas" => Some(Self::Personas),
            "campaigns" => Some(Self::Campaigns),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Personas => "personas",
            Self::Campaigns => "campaigns",
        }
    }
    pub fn fields(self) -> &'static [Field] {
        match self {
            Self::Personas => &PERSONA_FIELDS,
            Self::Campaigns => &CAMPAIGN_FIELDS,
        }
    }
}

/// A field of Enclave that a column can feed, with the header names CRMs use for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub key: &'static str,
    pub label: &'static str,
    pub required: bool,
    synonyms: &'static [&'static str],
}

const PERSONA_FIELDS: [Field; 5] = [
    Field {
        key: "name",
        label: "Name",
        required: true,
        synonyms: &[
            "name",
            "persona",
            "persona name",
            "full name",
            "contact name",
            "segment",
        ],
    },
    Field {
        key: "role_title",
        label: "Role",
        required: false,
        synonyms: &["role", "title", "job title", "position", "role title"],
    },
    Field {
        key: "goals",
        label: "Goals",
        required: false,
        synonyms: &["goals", "goal", "objectives", "needs"],
    },
    Field {
        key: "pains",
        label: "Pains",
        required: false,
        synonyms: &["pains", "pain points", "pain", "challenges", "frustrations"],
    },
    Field {
        key: "channels",
        label: "Channels",
        required: false,
        synonyms: &["channels", "channel", "preferred channels", "media"],
    },
];

const CAMPAIGN_FIELDS: [Field; 7] = [
    Field {
        key: "name",
        label: "Name",
        required: true,
        synonyms: &["name", "campaign", "campaign name", "title"],
    },
    Field {
        key: "objective",
        label: "Objective",
        required: false,
        synonyms: &["objective", "goal", "description", "purpose", "objectives"],
    },
    Field {
        key: "channels",
        label: "Channel mix",
        required: false,
        synonyms: &[
            "channels",
            "channel",
            "channel mix",
            "type",
            "campaign type",
            "medium",
        ],
    },
    Field {
        key: "budget",
        label: "Budget",
        required: false,
        synonyms: &[
            "budget",
            "budgeted cost",
            "budget amount",
            "planned budget",
            "cost",
        ],
    },
    Field {
        key: "starts_on",
        label: "Start date",
        required: false,
        synonyms: &[
            "start",
            "start date",
            "starts",
            "starts on",
            "begin date",
            "launch date",
        ],
    },
    Field {
        key: "ends_on",
        label: "End date",
        required: false,
        synonyms: &["end", "end date", "ends", "ends on", "finish date"],
    },
    Field {
        key: "status",
        label: "Status",
        required: false,
        synonyms: &["status", "state", "stage"],
    },
];

/// Why a whole file is refused, in words for the person who uploaded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileProblem {
    TooLarge(usize),
    NotUtf8,
    Empty,
    NoRows,
    TooManyRows(usize),
    TooManyColumns(usize),
    HeaderTooLong,
    /// A cell longer than [`MAX_CELL_BYTES`], on this line of the file.
    CellTooLong(u64),
    /// The CSV reader's complaint (logged; never shown: it can quote the file).
    Unreadable(String),
}

impl std::fmt::Display for FileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge(bytes) => write!(
                f,
                "The file is {:.1} MB; imports take files up to {} MB. Split it, or export fewer columns.",
                *bytes as f64 / 1_048_576.0,
                MAX_BYTES / 1_048_576
            ),
            Self::NotUtf8 => f.write_str(
                "The file is not UTF-8 text. Export it again as \"CSV UTF-8\" from your CRM or spreadsheet and upload that.",
            ),
            Self::Empty => f.write_str("The file is empty."),
            Self::NoRows => f.write_str(
                "The file has a header line but no rows under it.",
            ),
            Self::TooManyRows(n) => write!(
                f,
                "The file has {n} rows; an import takes up to {MAX_ROWS} rows at a time. Split it into smaller files."
            ),
            Self::TooManyColumns(n) => write!(
                f,
                "The file has {n} columns; an import reads up to {MAX_COLUMNS}. Export only the columns you need."
            ),
            Self::HeaderTooLong => write!(
                f,
                "The first line of the file is longer than {} KB, so it cannot be a header line. Check that the file is a CSV export.",
                MAX_HEADER_BYTES / 1024
            ),
            Self::CellTooLong(line) => write!(
                f,
                "Line {line} has a value longer than {MAX_CELL_BYTES} characters. Shorten it, or leave that column out of the export."
            ),
            Self::Unreadable(_) => f.write_str(
                "The file could not be read as CSV. Check that it is comma- or semicolon-separated text with a header line.",
            ),
        }
    }
}

/// A CSV file as read: the header and the rows (each cut to the header's width, never
/// padded: a short row is read as empty cells by `cell`). Only the tests hold a whole
/// file like this; the server reads rows one at a time (`read_rows`).
#[cfg(test)]
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// The file line each row starts on (the header is line 1), for the report.
    pub lines: Vec<u64>,
}

/// Bytes of an upload → text: UTF-8 only (a leading byte-order mark is dropped). Takes
/// the bytes so that the text reuses their memory instead of copying a 10 MB file.
pub fn decode(mut bytes: Vec<u8>) -> Result<String, FileProblem> {
    if bytes.len() > MAX_BYTES {
        return Err(FileProblem::TooLarge(bytes.len()));
    }
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    let text = String::from_utf8(bytes).map_err(|_| FileProblem::NotUtf8)?;
    if text.contains('\0') {
        return Err(FileProblem::NotUtf8);
    }
    if text.trim().is_empty() {
        return Err(FileProblem::Empty);
    }
    Ok(text)
}

/// The delimiter of the header line: CRMs in many countries export with ';' or tabs.
#[cfg(feature = "ssr")]
fn sniff_delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or("");
    [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| header.bytes().filter(|b| b == d).count())
        .filter(|d| header.bytes().any(|b| b == *d))
        .unwrap_or(b',')
}

/// Reads the header line within the caps (columns, length).
#[cfg(feature = "ssr")]
fn reader_and_headers(text: &str) -> Result<(csv::Reader<&[u8]>, Vec<String>), FileProblem> {
    let header_line = text.split('\n').next().unwrap_or("");
    if header_line.len() > MAX_HEADER_BYTES {
        return Err(FileProblem::HeaderTooLong);
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sniff_delimiter(text))
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let record = reader
        .headers()
        .map_err(|e| FileProblem::Unreadable(e.to_string()))?;
    if record.len() > MAX_COLUMNS {
        return Err(FileProblem::TooManyColumns(record.len()));
    }
    if record.as_slice().len() > MAX_HEADER_BYTES {
        // A quoted header can run over several lines.
        return Err(FileProblem::HeaderTooLong);
    }
    let headers: Vec<String> = record.iter().map(|h| h.trim().to_string()).collect();
    if headers.iter().all(|h| h.is_empty()) {
        return Err(FileProblem::Empty);
    }
    Ok((reader, headers))
}

/// Every row of the file, through one reused record, with the caps applied: calls
/// `each(record, line)` for each non-blank row and returns how many there were. The
/// upload checks a file with this without keeping its rows.
#[cfg(feature = "ssr")]
fn each_row(
    text: &str,
    mut reader: csv::Reader<&[u8]>,
    mut each: impl FnMut(&csv::StringRecord, u64),
) -> Result<usize, FileProblem> {
    let mut record = csv::StringRecord::new();
    let mut rows = 0usize;
    // Line numbers counted from byte offsets (the reader's own count skips blank lines).
    let (mut counted_to, mut line) = (0usize, 1u64);
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(FileProblem::Unreadable(e.to_string())),
        }
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let mut start = record.position().map_or(counted_to, |p| p.byte() as usize);
        // The reader's position can sit on blank lines it skipped before the record.
        while matches!(text.as_bytes().get(start), Some(b'\n' | b'\r')) {
            start += 1;
        }
        let start = start.min(text.len()).max(counted_to);
        line += text.as_bytes()[counted_to..start]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        counted_to = start;
        if record.iter().any(|c| c.len() > MAX_CELL_BYTES) {
            return Err(FileProblem::CellTooLong(line));
        }
        rows += 1;
        if rows > MAX_ROWS {
            // Count the rest without keeping them, for the message.
            while let Ok(true) = reader.read_record(&mut record) {
                if !record.iter().all(|c| c.trim().is_empty()) {
                    rows += 1;
                }
            }
            return Err(FileProblem::TooManyRows(rows));
        }
        each(&record, line);
    }
    if rows == 0 {
        return Err(FileProblem::NoRows);
    }
    Ok(rows)
}

/// The header line of a file, within the caps.
#[cfg(feature = "ssr")]
pub fn headers(text: &str) -> Result<Vec<String>, FileProblem> {
    reader_and_headers(text).map(|(_, headers)| headers)
}

/// Every row of a file, one at a time (cut to the header's width, cells trimmed), with
/// the line it starts on; none is kept here. Returns the header.
#[cfg(feature = "ssr")]
pub fn read_rows(
    text: &str,
    mut each: impl FnMut(Vec<String>, u64),
) -> Result<Vec<String>, FileProblem> {
    let (reader, headers) = reader_and_headers(text)?;
    let width = headers.len();
    each_row(text, reader, |record, line| {
        each(
            record
                .iter()
                .take(width)
                .map(|c| c.trim().to_string())
                .collect(),
            line,
        )
    })?;
    Ok(headers)
}

/// Checks a whole file against the caps and counts its rows, keeping none of them.
#[cfg(feature = "ssr")]
pub fn check(text: &str) -> Result<usize, FileProblem> {
    let (reader, _) = reader_and_headers(text)?;
    each_row(text, reader, |_, _| {})
}

/// A whole file in memory, rows and all, for the tests.
#[cfg(all(test, feature = "ssr"))]
fn parse(text: &str) -> Result<Table, FileProblem> {
    let (mut rows, mut lines) = (Vec::new(), Vec::new());
    let headers = read_rows(text, |row, line| {
        rows.push(row);
        lines.push(line);
    })?;
    Ok(Table {
        headers,
        rows,
        lines,
    })
}

fn normalise_header(h: &str) -> String {
    h.trim()
        .to_lowercase()
        .chars()
        .map(|c| if c == '_' || c == '-' { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Which column feeds each field: `(field key, column index)`, `None` when not imported.
pub type Mapping = Vec<(&'static str, Option<usize>)>;

/// The first column whose header is one of a field's names; each column used once.
pub fn guess_mapping(resource: ImportKind, headers: &[String]) -> Mapping {
    let normalised: Vec<String> = headers.iter().map(|h| normalise_header(h)).collect();
    let mut used = vec![false; headers.len()];
    resource
        .fields()
        .iter()
        .map(|f| {
            let found = f.synonyms.iter().find_map(|syn| {
                normalised
                    .iter()
                    .enumerate()
                    .find(|(i, h)| !used[*i] && h == syn)
                    .map(|(i, _)| i)
            });
            if let Some(i) = found {
                used[i] = true;
            }
            (f.key, found)
        })
        .collect()
}

/// A mapping chosen on the form: for each field the column index as text ("" = none).
/// Indexes beyond the header are refused rather than read as empty.
pub fn chosen_mapping(
    resource: ImportKind,
    headers: usize,
    chosen: impl Fn(&str) -> Option<String>,
) -> Result<Mapping, String> {
    resource
        .fields()
        .iter()
        .map(|f| match chosen(f.key).filter(|v| !v.is_empty()) {
            None => Ok((f.key, None)),
            Some(v) => match v.parse::<usize>() {
                Ok(i) if i < headers => Ok((f.key, Some(i))),
                _ => Err(format!(
                    "the column chosen for {} is not in the file",
                    f.label
                )),
            },
        })
        .collect()
}

pub fn missing_required(resource: ImportKind, mapping: &Mapping) -> Option<&'static str> {
    resource
        .fields()
        .iter()
        .find(|f| f.required && !mapping.iter().any(|(k, c)| *k == f.key && c.is_some()))
        .map(|f| f.label)
}

/// A text cell a spreadsheet would run as a formula (`=cmd|...`, `+`, `-`, `@`, or a
/// leading tab or carriage return) is stored with a leading apostrophe, which spreadsheets
/// show as text. Returns whether it changed the cell.
pub fn neutralise_formula(cell: &mut String) -> bool {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        cell.insert(0, '\'');
        true
    } else {
        false
    }
}

/// One row turned into the fields of a persona or campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportedRow {
    pub name: String,
    pub role_title: String,
    pub goals: String,
    pub pains: String,
    pub objective: String,
    pub channels: Vec<String>,
    pub budget_cents: Option<i64>,
    pub starts_on: Option<String>,
    pub ends_on: Option<String>,
    pub status: String,
    /// How many text cells were neutralised as formulas.
    pub neutralised: usize,
}

impl ImportedRow {
    /// What makes two rows "the same" for duplicate detection: the name, and for
    /// campaigns the start date (a campaign run every year keeps its name).
    pub fn duplicate_key(&self, resource: ImportKind) -> String {
        let name = self.name.to_lowercase();
        match resource {
            ImportKind::Personas => name,
            ImportKind::Campaigns => {
                format!("{name}\u{1f}{}", self.starts_on.as_deref().unwrap_or(""))
            }
        }
    }
}

fn cell<'a>(mapping: &Mapping, row: &'a [String], key: &str) -> &'a str {
    mapping
        .iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, c)| *c)
        .and_then(|i| row.get(i))
        .map(String::as_str)
        .unwrap_or("")
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// "2025-03-31" or "2025/03/31" → "2025-03-31" if the day exists; empty → none.
pub fn import_date(raw: &str, what: &str) -> Result<Option<String>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let bad = || format!("the {what} date \"{raw}\" is not a date written as YYYY-MM-DD");
    let parts: Vec<&str> = raw.split(['-', '/']).collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad());
    };
    if y.len() != 4 || m.is_empty() || m.len() > 2 || d.is_empty() || d.len() > 2 {
        return Err(bad());
    }
    let (y, m, d): (i32, u32, u32) = match (y.parse(), m.parse(), d.parse()) {
        (Ok(y), Ok(m), Ok(d)) => (y, m, d),
        _ => return Err(bad()),
    };
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if !(1..=days).contains(&d) || !(1900..=2999).contains(&y) {
        return Err(bad());
    }
    Ok(Some(format!("{y:04}-{m:02}-{d:02}")))
}

/// A CRM's status word → Enclave's, or none when the cell is empty.
pub fn import_status(raw: &str) -> Result<Option<&'static str>, String> {
    let s = normalise_header(raw);
    Ok(Some(match s.as_str() {
        "" => return Ok(None),
        "draft" | "planned" | "planning" | "new" | "not started" | "proposed" => "draft",
        "active" | "running" | "live" | "in progress" | "ongoing" | "launched" => "active",
        "paused" | "on hold" | "suspended" => "paused",
        "done" | "completed" | "complete" | "finished" | "ended" | "closed" | "aborted"
        | "cancelled" | "canceled" => "done",
        _ => {
            return Err(format!(
                "the status \"{}\" is not one Enclave knows",
                raw.trim()
            ))
        }
    }))
}

/// With no status in the file, the dates say it: ended → done, started → active, else
/// draft. `today` is the database's date, "YYYY-MM-DD".
pub fn status_from_dates(
    starts_on: Option<&str>,
    ends_on: Option<&str>,
    today: &str,
) -> &'static str {
    match (starts_on, ends_on) {
        (_, Some(end)) if end < today => "done",
        (Some(start), _) if start <= today => "active",
        _ => "draft",
    }
}

fn budget_cell(raw: &str) -> Result<Option<i64>, String> {
    let cleaned: String = raw
        .trim()
        .trim_start_matches(['$', '€', '£'])
        .trim_end_matches(['$', '€', '£'])
        .trim()
        .to_string();
    crate::campaigns::parse_budget(&cleaned)
        .map_err(|_| format!("the budget \"{}\" is not an amount", raw.trim()))
}

/// One data row → the imported fields, or the reason it is skipped.
pub fn build_row(
    resource: ImportKind,
    mapping: &Mapping,
    row: &[String],
    today: &str,
) -> Result<ImportedRow, String> {
    let neutralised = std::cell::Cell::new(0);
    let text = |key: &str, limit: usize, what: &str| -> Result<String, String> {
        let mut value = cell(mapping, row, key).to_string();
        if neutralise_formula(&mut value) {
            neutralised.set(neutralised.get() + 1);
        }
        if value.chars().count() > limit {
            return Err(format!("the {what} is longer than {limit} characters"));
        }
        Ok(value)
    };
    let name = text("name", 200, "name")?;
    if name.trim().is_empty() {
        return Err("the name is empty".into());
    }
    let mut channels =
        crate::personas::parse_channels(&cell(mapping, row, "channels").replace(';', ","));
    for c in channels.iter_mut() {
        if neutralise_formula(c) {
            neutralised.set(neutralised.get() + 1);
        }
    }
    if channels.len() > 20 || channels.iter().any(|c| c.chars().count() > 50) {
        return Err("list at most 20 channels of up to 50 characters each".into());
    }
    let mut out = ImportedRow {
        name,
        role_title: String::new(),
        goals: String::new(),
        pains: String::new(),
        objective: String::new(),
        channels,
        budget_cents: None,
        starts_on: None,
        ends_on: None,
        status: "draft".into(),
        neutralised: 0,
    };
    match resource {
        ImportKind::Personas => {
            out.role_title = text("role_title", 200, "role")?;
            out.goals = text("goals", 5000, "goals")?;
            out.pains = text("pains", 5000, "pains")?;
        }
        ImportKind::Campaigns => {
            out.objective = text("objective", 2000, "objective")?;
            out.budget_cents = budget_cell(cell(mapping, row, "budget"))?;
            out.starts_on = import_date(cell(mapping, row, "starts_on"), "start")?;
            out.ends_on = import_date(cell(mapping, row, "ends_on"), "end")?;
            if let (Some(s), Some(e)) = (&out.starts_on, &out.ends_on) {
                if e < s {
                    return Err("it ends before it starts".into());
                }
            }
            out.status = match import_status(cell(mapping, row, "status"))? {
                Some(s) => s.to_string(),
                None => status_from_dates(out.starts_on.as_deref(), out.ends_on.as_deref(), today)
                    .to_string(),
            };
        }
    }
    out.neutralised = neutralised.get();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_utf8_text_is_read() {
        assert_eq!(
            decode(b"\xEF\xBB\xBFname\nA\n".to_vec()).unwrap(),
            "name\nA\n"
        );
        assert_eq!(
            decode(b"name\n\xE9t\xE9\n".to_vec()),
            Err(FileProblem::NotUtf8)
        );
        assert_eq!(decode(b"  \n ".to_vec()), Err(FileProblem::Empty));
        let big = vec![b'a'; MAX_BYTES + 1];
        assert_eq!(decode(big), Err(FileProblem::TooLarge(MAX_BYTES + 1)));
        assert!(FileProblem::TooLarge(50 * 1_048_576)
            .to_string()
            .starts_with("The file is 50.0 MB"));
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn semicolons_quotes_and_ragged_rows_are_read() {
        let t = parse("Name;Budget;Notes\n\"Spring; launch\";1.500;x\n\nShort\n").unwrap();
        assert_eq!(t.headers, headers(&["Name", "Budget", "Notes"]));
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[0][0], "Spring; launch");
        // A short row is not padded; a long one is cut to the header.
        assert_eq!(t.rows[1], headers(&["Short"]));
        let long = parse("Name\nA,b,c,d\n").unwrap();
        assert_eq!(long.rows[0], headers(&["A"]));
        assert_eq!(t.lines, vec![2, 4]);
        assert_eq!(parse("Name\n\n"), Err(FileProblem::NoRows));
        let many = format!("Name\n{}", "x\n".repeat(MAX_ROWS + 3));
        assert_eq!(parse(&many), Err(FileProblem::TooManyRows(MAX_ROWS + 3)));
        assert_eq!(check(&many), Err(FileProblem::TooManyRows(MAX_ROWS + 3)));
        assert_eq!(check("Name;Budget\nA;1\n\nB;2\n"), Ok(2));
    }

    /// The attack that took the server's memory: one header line of 100,000 commas and
    /// short rows (each row used to be padded to the header's width).
    #[cfg(feature = "ssr")]
    #[test]
    fn files_past_the_caps_are_refused_before_rows_are_kept() {
        let commas = format!("{}\n{}", ",".repeat(100_000), "a\n".repeat(100));
        assert_eq!(parse(&commas), Err(FileProblem::HeaderTooLong));
        let wide = format!("{}\nx\n", vec!["c"; MAX_COLUMNS + 1].join(","));
        assert_eq!(
            check(&wide),
            Err(FileProblem::TooManyColumns(MAX_COLUMNS + 1))
        );
        let at_cap = format!("{}\nx\n", vec!["c"; MAX_COLUMNS].join(","));
        assert_eq!(check(&at_cap), Ok(1));
        let tall = format!(
            "Name,Goals\nA,short\nB,{}\n",
            "g".repeat(MAX_CELL_BYTES + 1)
        );
        assert_eq!(parse(&tall), Err(FileProblem::CellTooLong(3)));
        // A quoted header running over many lines is still one header.
        let quoted = format!("\"{}\"\nx\n", "h\n".repeat(MAX_HEADER_BYTES));
        assert_eq!(check(&quoted), Err(FileProblem::HeaderTooLong));
        // The reader's words never reach the person: they can quote the file.
        assert!(!FileProblem::Unreadable("secret cell".into())
            .to_string()
            .contains("secret"));
    }

    #[test]
    fn crm_headers_are_recognised() {
        let h = headers(&[
            "Campaign Name",
            "Start_Date",
            "End Date",
            "Budgeted Cost",
            "Status",
            "Type",
        ]);
        let m = guess_mapping(ImportKind::Campaigns, &h);
        let col = |k: &str| m.iter().find(|(f, _)| *f == k).unwrap().1;
        assert_eq!(col("name"), Some(0));
        assert_eq!(col("starts_on"), Some(1));
        assert_eq!(col("ends_on"), Some(2));
        assert_eq!(col("budget"), Some(3));
        assert_eq!(col("status"), Some(4));
        assert_eq!(col("channels"), Some(5));
        assert_eq!(col("objective"), None);
        assert_eq!(missing_required(ImportKind::Campaigns, &m), None);
        let none = guess_mapping(ImportKind::Personas, &headers(&["foo", "bar"]));
        assert_eq!(missing_required(ImportKind::Personas, &none), Some("Name"));
        assert!(chosen_mapping(ImportKind::Personas, 2, |k| (k == "name")
            .then(|| "5".into()))
        .is_err());
    }

    #[test]
    fn formulas_are_neutralised_and_counted() {
        let h = headers(&["name", "goals", "channels"]);
        let m = guess_mapping(ImportKind::Personas, &h);
        let row = headers(&["=cmd|' /C calc'!A0", "+1 more", "@SUM(A1); email"]);
        let r = build_row(ImportKind::Personas, &m, &row, "2026-01-01").unwrap();
        assert_eq!(r.name, "'=cmd|' /C calc'!A0");
        assert_eq!(r.goals, "'+1 more");
        assert_eq!(r.channels, vec!["'@SUM(A1)", "email"]);
        assert_eq!(r.neutralised, 3);
    }

    #[test]
    fn campaign_rows_derive_status_and_explain_skips() {
        let h = headers(&["name", "start", "end", "budget", "status"]);
        let m = guess_mapping(ImportKind::Campaigns, &h);
        let today = "2026-06-15";
        let row = |c: [&str; 5]| headers(&c);
        let done = build_row(
            ImportKind::Campaigns,
            &m,
            &row(["A", "2026-01-01", "2026-02-01", "$1,200", ""]),
            today,
        )
        .unwrap();
        assert_eq!(
            (done.status.as_str(), done.budget_cents),
            ("done", Some(120_000))
        );
        let active = build_row(
            ImportKind::Campaigns,
            &m,
            &row(["B", "2026/06/01", "", "", ""]),
            today,
        )
        .unwrap();
        assert_eq!(
            (active.status.as_str(), active.starts_on.as_deref()),
            ("active", Some("2026-06-01"))
        );
        let planned = build_row(
            ImportKind::Campaigns,
            &m,
            &row(["C", "2026-09-01", "", "", ""]),
            today,
        )
        .unwrap();
        assert_eq!(planned.status, "draft");
        let told = build_row(
            ImportKind::Campaigns,
            &m,
            &row(["D", "2026-01-01", "", "", "On hold"]),
            today,
        )
        .unwrap();
        assert_eq!(told.status, "paused");
        let skip = |c| build_row(ImportKind::Campaigns, &m, &row(c), today).unwrap_err();
        assert!(skip(["", "", "", "", ""]).contains("name is empty"));
        assert!(skip(["E", "2026-02-30", "", "", ""]).contains("not a date"));
        assert!(skip(["F", "03/04/2026", "", "", ""]).contains("not a date"));
        assert!(skip(["G", "2026-05-01", "2026-04-01", "", ""]).contains("ends before it starts"));
        assert!(skip(["H", "", "", "lots", ""]).contains("not an amount"));
        assert!(skip(["I", "", "", "", "exploded"]).contains("not one Enclave knows"));
        assert_eq!(
            import_date("2024-02-29", "start").unwrap().as_deref(),
            Some("2024-02-29")
        );
        assert!(import_date("2023-02-29", "start").is_err());
    }

    #[test]
    fn duplicates_are_keyed_by_name_and_start() {
        let h = headers(&["name", "start"]);
        let m = guess_mapping(ImportKind::Campaigns, &h);
        let a = build_row(
            ImportKind::Campaigns,
            &m,
            &headers(&["Spring", "2026-03-01"]),
            "2026-01-01",
        )
        .unwrap();
        let b = build_row(
            ImportKind::Campaigns,
            &m,
            &headers(&["SPRING", "2026-03-01"]),
            "2026-01-01",
        )
        .unwrap();
        let c = build_row(
            ImportKind::Campaigns,
            &m,
            &headers(&["Spring", "2027-03-01"]),
            "2026-01-01",
        )
        .unwrap();
        assert_eq!(
            a.duplicate_key(ImportKind::Campaigns),
            b.duplicate_key(ImportKind::Campaigns)
        );
        assert_ne!(
            a.duplicate_key(ImportKind::Campaigns),
            c.duplicate_key(ImportKind::Campaigns)
        );
    }
}
