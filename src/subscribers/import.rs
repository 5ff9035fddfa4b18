//! `subscribers import`: a list of readers kept by another newsletter tool, as CSV, read record by
//! record and written in batches of `BATCH` rows, one short transaction each. It decides what each
//! row does to the reader it names and reports every row it cannot use (with its line number)
//! through a callback, importing the rest. It keeps one batch and counts in memory, never the
//! file, its addresses or its errors; and it sends nothing: readers imported as pending wait for
//! the confirmation flow.
//!
//! The rules, so that importing an old list never undoes what a reader said here:
//! - a new reader whose row says active is imported pending unless the list was confirmed
//!   elsewhere (`confirmed`); pending rows import pending; a reader active here stays active;
//! - unsubscribed rows unsubscribe (opt-outs from the old system are honoured), suppressed rows
//!   suppress the address (its reader is kept, or created as an active row would create them);
//!   both cancel the reader's waiting messages;
//! - an address unsubscribed or suppressed here is left alone by active and pending rows, unless
//!   `resubscribe` says to bring it back (lifting its suppression);
//! - a non-empty keywords field replaces what the reader follows, an empty one keeps it.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::{SubscribeError, SubscriberEmail, new_token};
use crate::config::Config;
use crate::keywords::{self, KeywordName, Rules};
use crate::store::{ImportedReader, KeywordId, KeywordOrigin, Present, Store, StoreError, SubscriberStatus};

/// Rows written per transaction: large enough that a batch costs little more than its rows,
/// small enough that a transaction stays short and its arrays small.
pub const BATCH: usize = 1000;

/// The separators of several keywords in one field: the Arabic comma and semicolon, and the
/// Latin ones other tools write.
const KEYWORD_SEPARATORS: [char; 5] = ['،', ',', ';', '؛', '|'];

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Keyword spellings kept parsed at most; past that the cache starts again, so that a file of
/// ever-new keywords keeps memory flat too.
const PARSED_KEYWORDS: usize = 10_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// The readers of the list confirmed their subscription elsewhere: active rows import active.
    pub confirmed: bool,
    /// Bring back addresses that unsubscribed or are suppressed here.
    pub resubscribe: bool,
}

/// What an import did. Every data row of the file is counted once in `rows`, and once in
/// `added`, `updated`, `left_alone`, `bad` or `duplicates`; `pending`, `unsubscribed` and
/// `suppressed` say what became of the rows added or updated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub rows: u64,
    /// New readers.
    pub added: u64,
    /// Readers already here, updated.
    pub updated: u64,
    /// Imported awaiting confirmation.
    pub pending: u64,
    pub unsubscribed: u64,
    pub suppressed: u64,
    /// Addresses unsubscribed or suppressed here that an active or pending row did not bring back.
    pub left_alone: u64,
    pub bad: u64,
    /// Rows followed, in the same batch, by a later row with the same address (which wins).
    pub duplicates: u64,
}

impl ImportReport {
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} row(s): {} added, {} updated, {} left alone (unsubscribed or suppressed here), {} bad",
            self.rows, self.added, self.updated, self.left_alone, self.bad
        );
        if self.duplicates > 0 {
            s.push_str(&format!(", {} repeated an address (the later row counts)", self.duplicates));
        }
        s.push_str(&format!(
            "; {} awaiting confirmation, {} unsubscribed, {} suppressed",
            self.pending, self.unsubscribed, self.suppressed
        ));
        s
    }

    fn absorb(&mut self, tally: &ImportReport) {
        self.added += tally.added;
        self.updated += tally.updated;
        self.pending += tally.pending;
        self.unsubscribed += tally.unsubscribed;
        self.suppressed += tally.suppressed;
        self.left_alone += tally.left_alone;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read the CSV file at line {line}: {source}")]
    Read { line: u64, source: csv::Error },
    #[error("the first line names no email column (it has: {found}); name one `email`, or leave out the header line")]
    NoEmailColumn { found: String },
    #[error(transparent)]
    Subscriber(#[from] SubscribeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a row asks for, as the file says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    Active,
    Pending,
    Unsubscribed,
    Suppressed,
}

impl Wanted {
    fn parse(text: &str) -> Result<Wanted, String> {
        match text.trim().to_lowercase().as_str() {
            "" | "active" | "subscribed" | "confirmed" => Ok(Wanted::Active),
            "pending" | "unconfirmed" => Ok(Wanted::Pending),
            "unsubscribed" | "opted-out" | "optout" => Ok(Wanted::Unsubscribed),
            "suppressed" | "bounced" | "cleaned" => Ok(Wanted::Suppressed),
            _ => Err(format!(
                "unknown status {text:?} (active, pending, unsubscribed or suppressed, or another tool's name for one)"
            )),
        }
    }
}

/// Where each field is in a record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Columns {
    email: usize,
    keywords: Option<usize>,
    status: Option<usize>,
    created: Option<usize>,
    /// Fields in every record.
    width: usize,
    /// The widths come from a header line (else from the first record).
    header: bool,
}

impl Columns {
    /// The columns a header line names, or `None` if it names no email column.
    fn named(header: &[String]) -> Option<Columns> {
        let find = |names: &[&str]| header.iter().position(|h| names.contains(&h.trim().to_lowercase().as_str()));
        Some(Columns {
            email: find(&["email", "e-mail", "email address", "email_address"])?,
            keywords: find(&["keywords"]),
            status: find(&["status"]),
            created: find(&["created", "created_at"]),
            width: header.len(),
            header: true,
        })
    }

    /// A file without a header line: email, keywords, status, created, as far as the first
    /// record goes.
    fn positional(width: usize) -> Columns {
        let at = |i: usize| (i < width).then_some(i);
        Columns { email: 0, keywords: at(1), status: at(2), created: at(3), width, header: false }
    }
}

/// A usable row, waiting in its batch.
struct Row {
    email: SubscriberEmail,
    wanted: Wanted,
    /// The status as the file wrote it, for the suppression's reason.
    written: String,
    /// Empty: keep what the reader follows.
    keywords: Vec<Arc<Written>>,
    created: Option<DateTime<Utc>>,
}

/// A keyword as the file wrote it, parsed.
struct Written {
    name: KeywordName,
    /// The matching form of the keyword it stands for (aliases folded): how `follow` names it.
    key: String,
}

/// Reads a CSV list of readers from `input` and imports it (see the module doc for the rules),
/// calling `on_bad(line, reason)` for each row it cannot use and `progress` after each batch.
pub async fn import<R: Read>(
    store: &Store,
    config: &Config,
    input: R,
    options: &ImportOptions,
    now: DateTime<Utc>,
    on_bad: &mut (dyn FnMut(u64, &str) + Send),
    progress: &(dyn Fn(&ImportReport) + Sync),
) -> Result<ImportReport, ImportError> {
    // Records end at a line feed (a carriage return before it is trimmed with the field), and the
    // input at one more: then the reader's line after each record says where the record began,
    // which its own position does not when blank lines came before it.
    let input = skip_bom(input)
        .map_err(|e| ImportError::Read { line: 1, source: e.into() })?
        .chain(std::io::Cursor::new(b"\n"));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(input);
    let mut importer = Importer {
        store,
        config,
        rules: Rules::new(&config.keywords),
        options: *options,
        now,
        keyword_ids: HashMap::new(),
        parsed: HashMap::new(),
        batch: Vec::with_capacity(BATCH),
        in_batch: HashMap::with_capacity(BATCH),
        report: ImportReport::default(),
    };
    let mut columns: Option<Columns> = None;
    let mut record = csv::ByteRecord::new();
    loop {
        let more = reader.read_byte_record(&mut record).map_err(|e| ImportError::Read {
            line: e.position().map_or_else(|| reader.position().line(), |p| p.line()),
            source: e,
        })?;
        if !more {
            break;
        }
        if record.iter().all(|f| f.trim_ascii().is_empty()) {
            continue;
        }
        let inner_breaks: usize = record.iter().map(|f| f.iter().filter(|&&b| b == b'\n').count()).sum();
        let line = reader.position().line().saturating_sub(1 + inner_breaks as u64);
        if columns.is_none() {
            let first: Vec<String> = record.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect();
            if let Some(named) = Columns::named(&first) {
                columns = Some(named);
                continue;
            }
            if !first.first().is_some_and(|f| f.contains('@')) {
                return Err(ImportError::NoEmailColumn { found: first.join(", ") });
            }
            columns = Some(Columns::positional(first.len()));
        }
        let Some(columns) = &columns else { continue };
        importer.report.rows += 1;
        match importer.parse(&record, columns) {
            Ok(row) => {
                if importer.push(row) {
                    importer.flush(progress).await?;
                }
            }
            Err(reason) => {
                importer.report.bad += 1;
                on_bad(line, &reason);
            }
        }
    }
    importer.flush(progress).await?;
    tracing::info!(
        rows = importer.report.rows,
        added = importer.report.added,
        updated = importer.report.updated,
        bad = importer.report.bad,
        "subscribers imported"
    );
    Ok(importer.report)
}

/// Leaves out a UTF-8 byte order mark at the start of the input (spreadsheets write one), before
/// the CSV reader sees it: a mark before a quoted header would make its quotes literal.
fn skip_bom<R: Read>(mut input: R) -> std::io::Result<impl Read> {
    let mut start = [0u8; 3];
    let mut n = 0;
    while n < start.len() {
        match input.read(start.get_mut(n..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(read) => n += read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let kept = if start.get(..n) == Some(BOM) { Vec::new() } else { start.get(..n).unwrap_or_default().to_vec() };
    Ok(std::io::Cursor::new(kept).chain(input))
}

struct Importer<'a> {
    store: &'a Store,
    config: &'a Config,
    rules: Rules,
    options: ImportOptions,
    now: DateTime<Utc>,
    /// Keyword ids by canonical matching form, for the whole import: each keyword of the file
    /// is resolved once.
    keyword_ids: HashMap<String, KeywordId>,
    /// Keywords by their text in the file: a list repeats a few keywords in every row, and
    /// parsing Arabic costs more than looking it up.
    parsed: HashMap<String, Result<Arc<Written>, String>>,
    batch: Vec<Row>,
    /// Index in `batch` by address.
    in_batch: HashMap<String, usize>,
    report: ImportReport,
}

impl Importer<'_> {
    fn parse(&mut self, record: &csv::ByteRecord, columns: &Columns) -> Result<Row, String> {
        if record.len() != columns.width {
            let other = if columns.header { "the header line has" } else { "the first line has" };
            return Err(format!("{} field(s) where {other} {}", record.len(), columns.width));
        }
        fn field(record: &csv::ByteRecord, i: Option<usize>) -> Result<&str, String> {
            match i.and_then(|i| record.get(i)) {
                Some(bytes) => {
                    std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text (save the file as UTF-8)".to_owned())
                }
                None => Ok(""),
            }
        }
        let field = |i| field(record, i);
        let email = SubscriberEmail::parse(field(Some(columns.email))?).map_err(|e| e.to_string())?;
        let written = field(columns.status)?.trim();
        let wanted = Wanted::parse(written)?;
        let mut keywords = Vec::new();
        for text in field(columns.keywords)?.split(KEYWORD_SEPARATORS).map(str::trim).filter(|k| !k.is_empty()) {
            keywords.push(self.keyword(text)?);
        }
        if keywords.len() > super::signup::MAX_KEYWORDS {
            return Err(format!(
                "a reader follows at most {} keywords, not {}",
                super::signup::MAX_KEYWORDS,
                keywords.len()
            ));
        }
        let created = parse_created(field(columns.created)?)?;
        Ok(Row { email, wanted, written: written.to_owned(), keywords, created })
    }

    fn keyword(&mut self, text: &str) -> Result<Arc<Written>, String> {
        if let Some(parsed) = self.parsed.get(text) {
            return parsed.clone();
        }
        let parsed = match KeywordName::parse(text) {
            Ok(name) => Ok(Arc::new(Written { key: self.rules.canonical(name.clone()).normalized().to_owned(), name })),
            Err(e) => Err(e.to_string()),
        };
        if self.parsed.len() >= PARSED_KEYWORDS {
            self.parsed.clear();
        }
        self.parsed.insert(text.to_owned(), parsed.clone());
        parsed
    }

    /// Adds a row to the batch (in place of an earlier row with its address); says whether the
    /// batch is full.
    fn push(&mut self, row: Row) -> bool {
        match self.in_batch.get(row.email.as_str()).and_then(|&i| self.batch.get_mut(i)) {
            Some(earlier) => {
                *earlier = row;
                self.report.duplicates += 1;
            }
            None => {
                self.in_batch.insert(row.email.as_str().to_owned(), self.batch.len());
                self.batch.push(row);
            }
        }
        self.batch.len() >= BATCH
    }

    /// Writes the batch: its keywords first (outside the batch's transaction, which they do not
    /// need and which on SQLite would wait for them), then its rows in one transaction.
    async fn flush(&mut self, progress: &(dyn Fn(&ImportReport) + Sync)) -> Result<(), ImportError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let mut seen = HashSet::new();
        let unknown: Vec<KeywordName> = self
            .batch
            .iter()
            .flat_map(|row| &row.keywords)
            .filter(|k| !self.keyword_ids.contains_key(&k.key) && seen.insert(k.key.as_str()))
            .map(|k| k.name.clone())
            .collect();
        if !unknown.is_empty() {
            // `follow` names each keyword by its canonical matching form: the key.
            let followed =
                keywords::follow(self.store, self.config, &unknown, KeywordOrigin::Subscriber, self.now).await?;
            self.keyword_ids.extend(followed.into_iter().map(|k| (k.normalized, k.id)));
        }
        let tokens = self.batch.iter().map(|_| new_token()).collect::<Result<Vec<_>, _>>()?;
        let emails: Vec<&str> = self.batch.iter().map(|r| r.email.as_str()).collect();
        let plan = |present: &HashMap<String, Present>| {
            let mut tally = ImportReport::default();
            let mut writes = Vec::with_capacity(self.batch.len());
            for (row, token) in self.batch.iter().zip(tokens) {
                let here = present.get(row.email.as_str()).copied().unwrap_or_default();
                match decide(row.wanted, here, self.options) {
                    None => tally.left_alone += 1,
                    Some(decision) => {
                        count(&mut tally, row.wanted, here, decision.status);
                        writes.push(self.write(row, token, decision));
                    }
                }
            }
            (writes, tally)
        };
        let tally = self.store.import_batch(&emails, self.now, plan).await?;
        self.report.absorb(&tally);
        self.batch.clear();
        self.in_batch.clear();
        progress(&self.report);
        Ok(())
    }

    fn write(&self, row: &Row, token: String, decision: Decision) -> ImportedReader {
        let created_at = row.created.unwrap_or(self.now);
        let keywords = (!row.keywords.is_empty()).then(|| {
            let mut ids: Vec<KeywordId> = Vec::with_capacity(row.keywords.len());
            for k in &row.keywords {
                // Aliases fold into one keyword: follow it once, at its first place.
                if let Some(&id) = self.keyword_ids.get(&k.key)
                    && !ids.contains(&id)
                {
                    ids.push(id);
                }
            }
            ids
        });
        ImportedReader {
            email: row.email.as_str().to_owned(),
            status: decision.status,
            token,
            created_at,
            confirmed_at: (decision.status == SubscriberStatus::Active).then_some(created_at),
            keywords,
            suppress: (row.wanted == Wanted::Suppressed).then(|| format!("imported as {}", row.written)),
            unsuppress: decision.unsuppress,
            cancel: match row.wanted {
                Wanted::Unsubscribed => Some("unsubscribed"),
                Wanted::Suppressed => Some("the address is suppressed"),
                Wanted::Active | Wanted::Pending => None,
            },
        }
    }
}

/// What a row does to its reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decision {
    status: SubscriberStatus,
    unsuppress: bool,
}

/// The import rules (module doc): what `wanted` does to an address with `here` stored about it,
/// or `None` to leave it alone.
fn decide(wanted: Wanted, here: Present, options: ImportOptions) -> Option<Decision> {
    let current = here.subscriber.map(|(_, status)| status);
    // What an active row makes of a new reader (or of one brought back).
    let joining = if options.confirmed { SubscriberStatus::Active } else { SubscriberStatus::Pending };
    match wanted {
        Wanted::Active | Wanted::Pending => {
            if (here.suppressed || current == Some(SubscriberStatus::Unsubscribed)) && !options.resubscribe {
                return None;
            }
            let status = match (current, wanted) {
                (Some(SubscriberStatus::Active), _) => SubscriberStatus::Active,
                (_, Wanted::Active) => joining,
                _ => SubscriberStatus::Pending,
            };
            Some(Decision { status, unsuppress: here.suppressed })
        }
        Wanted::Unsubscribed => Some(Decision { status: SubscriberStatus::Unsubscribed, unsuppress: false }),
        Wanted::Suppressed => Some(Decision { status: current.unwrap_or(joining), unsuppress: false }),
    }
}

fn count(tally: &mut ImportReport, wanted: Wanted, here: Present, status: SubscriberStatus) {
    if here.subscriber.is_some() {
        tally.updated += 1;
    } else {
        tally.added += 1;
    }
    match wanted {
        Wanted::Unsubscribed => tally.unsubscribed += 1,
        Wanted::Suppressed => tally.suppressed += 1,
        Wanted::Active | Wanted::Pending if status == SubscriberStatus::Pending => tally.pending += 1,
        Wanted::Active | Wanted::Pending => {}
    }
}

/// A sign-up time: RFC 3339, `YYYY-MM-DD HH:MM:SS` (UTC) or `YYYY-MM-DD`; empty is `None`.
fn parse_created(text: &str) -> Result<Option<DateTime<Utc>>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(t.to_utc()));
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(Some(t.and_utc()));
        }
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(Some(day.and_time(chrono::NaiveTime::MIN).and_utc()));
    }
    Err(format!("cannot read the date {text:?} (write 2026-11-30T07:00:00+02:00, 2026-11-30 05:00:00 or 2026-11-30)"))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn here(status: Option<SubscriberStatus>, suppressed: bool) -> Present {
        Present { subscriber: status.map(|s| (1, s)), suppressed }
    }

    const PLAIN: ImportOptions = ImportOptions { confirmed: false, resubscribe: false };

    #[test]
    fn statuses_of_other_tools_are_understood() {
        assert_eq!(Wanted::parse(""), Ok(Wanted::Active));
        assert_eq!(Wanted::parse(" Subscribed "), Ok(Wanted::Active));
        assert_eq!(Wanted::parse("UNCONFIRMED"), Ok(Wanted::Pending));
        assert_eq!(Wanted::parse("opted-out"), Ok(Wanted::Unsubscribed));
        assert_eq!(Wanted::parse("cleaned"), Ok(Wanted::Suppressed));
        assert!(Wanted::parse("maybe").unwrap_err().contains("\"maybe\""));
    }

    #[test]
    fn new_readers_of_an_unconfirmed_list_must_confirm() {
        let new = here(None, false);
        assert_eq!(decide(Wanted::Active, new, PLAIN).unwrap().status, SubscriberStatus::Pending);
        let confirmed = ImportOptions { confirmed: true, ..PLAIN };
        assert_eq!(decide(Wanted::Active, new, confirmed).unwrap().status, SubscriberStatus::Active);
        assert_eq!(decide(Wanted::Pending, new, confirmed).unwrap().status, SubscriberStatus::Pending);
    }

    #[test]
    fn an_active_reader_is_never_downgraded_by_an_active_or_pending_row() {
        let active = here(Some(SubscriberStatus::Active), false);
        assert_eq!(decide(Wanted::Active, active, PLAIN).unwrap().status, SubscriberStatus::Active);
        assert_eq!(decide(Wanted::Pending, active, PLAIN).unwrap().status, SubscriberStatus::Active);
        assert_eq!(decide(Wanted::Unsubscribed, active, PLAIN).unwrap().status, SubscriberStatus::Unsubscribed);
    }

    #[test]
    fn opted_out_addresses_come_back_only_when_asked() {
        for gone in [here(Some(SubscriberStatus::Unsubscribed), false), here(None, true)] {
            assert_eq!(decide(Wanted::Active, gone, PLAIN), None);
            assert_eq!(decide(Wanted::Pending, gone, PLAIN), None);
            let back = decide(Wanted::Active, gone, ImportOptions { resubscribe: true, ..PLAIN }).unwrap();
            assert_eq!(back, Decision { status: SubscriberStatus::Pending, unsuppress: gone.suppressed });
        }
    }

    #[test]
    fn a_suppressed_row_keeps_the_readers_status() {
        let unsubscribed = here(Some(SubscriberStatus::Unsubscribed), false);
        assert_eq!(decide(Wanted::Suppressed, unsubscribed, PLAIN).unwrap().status, SubscriberStatus::Unsubscribed);
        assert_eq!(decide(Wanted::Suppressed, here(None, false), PLAIN).unwrap().status, SubscriberStatus::Pending);
    }

    #[test]
    fn dates_are_read_in_three_forms() {
        let at = Utc.with_ymd_and_hms(2026, 11, 30, 5, 0, 0).unwrap();
        assert_eq!(parse_created("2026-11-30T07:00:00+02:00"), Ok(Some(at)));
        assert_eq!(parse_created("2026-11-30 05:00:00"), Ok(Some(at)));
        assert_eq!(parse_created(" 2026-11-30 "), Ok(Some(at - chrono::Duration::hours(5))));
        assert_eq!(parse_created(""), Ok(None));
        assert!(parse_created("30/11/2026").is_err());
    }

    #[test]
    fn a_header_names_columns_in_any_order_and_case() {
        let header: Vec<String> = ["Status", "Keywords", " EMAIL ", "created_at", "name"].map(String::from).to_vec();
        let columns = Columns::named(&header).unwrap();
        assert_eq!((columns.email, columns.keywords, columns.status, columns.created), (2, Some(1), Some(0), Some(3)));
        assert_eq!(Columns::named(&["a@b.example".to_owned()]), None);
        assert_eq!(Columns::positional(2).status, None);
    }

    #[test]
    fn a_byte_order_mark_is_left_out() {
        let mut out = String::new();
        skip_bom("\u{feff}email\n".as_bytes()).unwrap().read_to_string(&mut out).unwrap();
        assert_eq!(out, "email\n");
        out.clear();
        skip_bom("a".as_bytes()).unwrap().read_to_string(&mut out).unwrap();
        assert_eq!(out, "a");
    }

    /// Compiles only if an import and an export can be spawned on a multi-threaded runtime.
    #[allow(dead_code)]
    fn imports_and_exports_can_be_spawned(store: &Store, config: &Config, file: std::fs::File) {
        fn send<T: Send>(_: T) {}
        let mut on_bad = |_: u64, _: &str| {};
        send(import(store, config, file, &PLAIN, Utc::now(), &mut on_bad, &|_| {}));
        send(crate::subscribers::export(store, Vec::new()));
    }
}
