/**
 * The reference of each command, shown after commander's usage by `pooltag COMMAND --help`
 * (the README keeps to what a newcomer needs and points here).
 *
 * Examples work as typed in bash, cmd.exe and PowerShell: no single quotes, no `#` comments,
 * no `&&`, `$` or `%VAR%`; an argument with a backslash, a space, `*` or `?` is in double
 * quotes (test/help.test.ts checks this). Every text ends with the command's exit codes.
 */

export const ROOT_HELP = `
Start with the fixtures of a fresh clone (see README.md), then on a real host:
  pooltag scan --out host.json
  pooltag merge host.json
  pooltag import-pooltag
  pooltag lookup ShAp
  pooltag triage poolmon.txt

Examples:
  pooltag lookup ShAp
  pooltag triage poolmon.txt
  pooltag triage --interval 30m snap1.txt snap2.txt snap3.txt
  pooltag scan --out report.json test/fixtures/bin
  pooltag tags --find FxAp test/fixtures/bin
  pooltag inspect --json test/fixtures/bin/x64-clang-O2/core.sys

Every command has its own --help with what it reads, what it prints and examples.
A bad input or argument is one line saying what is wrong and where (no stack trace);
--debug (before or after the command) adds the stack trace to an unexpected error.
The knowledge base is one SQLite file: --db FILE, else POOLTAG_DB, else pooltag.db in the
user data folder (~/.local/share/pooltag, %LOCALAPPDATA%\\pooltag). A base shared by a team
or a fleet lives on a PostgreSQL server: --db postgres://USER@HOST/DATABASE (or the same URL
in POOLTAG_DB), and every command works on it as on the file; the password comes from the URL,
PGPASSWORD or pgpass, and is never printed.

Exit codes: 0 success, 1 usage error, 2 some inputs could not be read (the others were
processed), 3 a searched tag or driver was not found, 130 interrupted (Ctrl-C).`;

export const INSPECT_HELP = `
Prints what the PE reader sees: format and machine, subsystem, SHA-256, version strings
(every language), the Authenticode signer and issuer ("signed (not verified)": the chain is
not checked), the PDB path with GUID and age, imports per module (delay-load too), exports
and the .pdata function count. A malformed file gets a clear error with the offset of the
problem; a broken directory is reported and the rest is still read.

Examples:
  pooltag inspect test/fixtures/bin/x64-clang-O2/core.sys
  pooltag inspect --imports test/fixtures/bin/arm64-clang-O2/core.sys
  pooltag inspect "C:\\Windows\\System32\\drivers\\ndis.sys"
  pooltag inspect --json test/fixtures/bin/x64-mingw-O2/core.sys > meta.json
  pooltag inspect test/fixtures/bin/x64-clang-O2
  pooltag inspect "C:\\Windows\\System32\\drivers\\hid*.sys"

Exit codes: 0 every file was read, 1 usage error, 2 some files could not be read.`;

export const TAGS_HELP = `
Recovers the tags each driver passes to ExAllocatePoolWithTag and every other tag-taking
routine (data/routines.json: pool, lookaside, NDIS, Filter Manager, VideoPort, StorPort,
remove-lock, mapping and object-reference tags), at the call sites: immediates, values in
registers or stack slots, both arms of a cmov/csel, jump-table cases, constants in read-only
data, a writable global's initial value (medium: run time may change it), in-driver wrappers
(MyAlloc(size, tag), wrappers of wrappers), KMDF calls through WdfFunctions, NDIS
pool-parameter structs, and a tag stored in a structure and passed later (struct-field).
Each finding says how it was recovered and how sure it is; untagged allocations
(ExAllocatePool -> None) are marked as shared tags; a call site whose tag could not be
recovered is listed with its reason under --unresolved, never dropped silently.

--find takes ShAp, Io (padded), "Io  ", 0x70416853, "\\x06ab"-style escapes, and with
--literal the C multi-character literal. Tags are case-sensitive; PROTECTED_POOL is ignored
for matching. Folders are searched for .sys, .dll, .exe and .drv.

Examples:
  pooltag tags test/fixtures/bin/x64-clang-O2/core.sys
  pooltag tags --find FxAp test/fixtures/bin
  pooltag tags --find pAxF --literal test/fixtures/bin
  pooltag tags --find 0x70417846 --json test/fixtures/bin
  pooltag tags --unresolved --strings test/fixtures/bin/arm64-clang-O2/core.sys
  pooltag tags "C:\\Windows\\System32\\drivers\\tcpip.sys"

Exit codes: 0 success, 1 usage error, 2 some files could not be read (a truncated or
malformed driver too), 3 --find matched nothing.`;

export const SCAN_HELP = `
Scans driver folders in parallel (one worker thread per core) into a report: each file's
path, size, mtime and SHA-256, and for each distinct image its PE metadata (version strings,
signer, PDB path, machine), its tags at call sites with the evidence, unresolved call sites
and classified strings. Files with the same SHA-256 are analysed once.

Without a path: System32\\drivers, the DriverStore and the kernel's images in System32
(ntoskrnl.exe, hal.dll, ci.dll, ...) on Windows, the same below /mnt/c under WSL. A folder
gives its *.sys files, the kernel's own names (data/kernel-images.json) and every other file
whose PE subsystem is NATIVE (only its first 4 KiB are read to tell); --include (repeatable
globs) replaces that, --exclude always leaves files out.

The report is versioned JSON (data/report.schema.json); --format ndjson writes one record a
line. --out FILE writes atomically (gzipped when it ends in .gz), --out - to stdout, --out
FOLDER (a collection share) writes scan-HOST-TIME.json.gz there; without --out it goes to the
data folder and its path is printed. A bad file never stops a scan: it gets an error entry with a
code (not-pe, malformed, empty, too-large, timeout, ...). Results are cached by path, size
and mtime (--no-cache, --verify re-hashes). On a fleet: copy pooltag.exe (npm run build:exe;
nothing to install) to each host, run the scan as SYSTEM and collect one report per host on
a share, then merge them all. On Windows, paths are compared without case and wildcards in
file arguments (*.sys) are expanded by pooltag, as cmd.exe and PowerShell do not.

Examples:
  pooltag scan
  pooltag scan --out host.json
  pooltag scan --no-cache --jobs 2 --out fixtures-report.json test/fixtures/bin
  pooltag scan --include "**/*.sys" --include "**/*.dll" --out drivers.json "D:\\Vendor Drivers"
  pooltag scan --quiet --format ndjson --out - test/fixtures/bin
  pooltag scan --known known.txt.gz --out host.json.gz
  pooltag scan --known "\\\\collector\\pooltag\\known.txt.gz" --out "\\\\collector\\pooltag\\reports"

Exit codes: 0 every file was scanned, 1 usage error or an --include that matched no file,
2 some files could not be scanned (each has an error entry in the report), 130 interrupted
(Ctrl-C).`;

export const LOOKUP_HELP = `
For each tag: an engineer's note first, if there is one; then the candidates, ranked by
evidence, one per driver (its x86, x64 and ARM64 builds, older versions and renamed copies
grouped by OriginalFilename and vendor), each with its owner and vendor and its evidence in
one line:
  1. call sites in a scanned driver (the tag is passed to an allocation routine there);
  2. pooltag.txt (exact entries, then wildcard entries by poolmon's longest-prefix rule; one
     owner once, every copy and entry that names it as its sources);
  3. a tag-looking string in a driver's data (what strings | findstr finds): a hint only.
Then what to do next. Shared tags (None, Ddk, NDam, ...) are marked: finding one in a driver
does not make that driver the owner. A tag nothing knows says so, with the tags the base has
that differ only by case ("did you mean FxAp") or have a byte printed as a dot; what to do
about unknown tags is said once.

Tags are case-sensitive. A byte that is not printable is printed as \\xNN, which is also how
to type it ("Fx\\x01!"). Poolmon's wildcards ("Afd?", "Ntf*") list every known tag they match.
--builds lists every build with its hosts, paths and call sites (RVAs), --all every call site;
--json has every build and call site, and the next step.

Examples:
  pooltag lookup ShAp
  pooltag lookup --db fixtures.db FxAp
  pooltag lookup --builds --all FxAp
  pooltag lookup Io "Ntf*" 0x70416853 "Fx\\x01!"
  pooltag lookup --literal pAhS --json

Exit codes: 0 every tag has an owner candidate or a note, 1 usage error or no knowledge
base, 3 some tag is unknown.`;

export const TRIAGE_HELP = `
Reads what a server shows when its pool runs out: poolmon screens and /n snapshots,
!poolused (both layouts), !pool and !poolfind (the blocks they list, each tag's owner), !vm
and !frag as context, CSV and JSON tables of SystemPoolTagInformation (column names in
data/pool-columns.json). Any encoding (UTF-8, UTF-16 from PowerShell, Latin-1); debugger
noise is skipped; a line that cannot be read is reported with its number.

First the verdict: an exhausted or fragmented pool (from !vm, !frag), then the tags that hold
most of each pool (a share of 10% and 1 MB at least), each with its owner, vendor and what to
do next; when nothing stands out it says so. Then one table per pool, sorted by --sort and
cut to --top rows. Several snapshots (ordered by the times in them, else as given with
--interval) give the growth per tag: a tag that grows in every interval is a leak suspect.
Without a knowledge base the owners come from what the input itself says. - reads stdin
(in PowerShell: Get-Content poolmon.txt | pooltag triage -). --json is described in
data/triage.schema.json. Colour only on a terminal, never with NO_COLOR.

Examples:
  pooltag triage poolmon.txt
  pooltag triage --db fixtures.db test/triage/poolmon-2019.txt
  pooltag triage --db fixtures.db --top 4 test/triage/series-1.txt test/triage/series-2.txt test/triage/series-3.txt
  pooltag triage --interval 30m 0900.txt 0930.txt 1000.txt
  pooltag triage vm.txt frag.txt poolused.txt
  pooltag triage --sort diff --top 0 --json poolused.txt > triage.json

Exit codes: 0 analysed, 1 usage error or nothing readable, 2 some inputs or lines could not
be read (the rest was analysed).`;

export const SEARCH_HELP = `
Full-text search (lunr query syntax) over drivers (file names, vendor, signer, product,
description, PDB name, classified strings), pooltag.txt entries and notes; one result per
driver. Fields: tag name vendor product pdb owner text strings. Tags are whole,
case-sensitive tokens (tag:ShAp does not find shap); a bare term of up to 4 characters is
also tried as a tag. The index is rebuilt when the base has changed.

Examples:
  pooltag search contoso
  pooltag search tag:FxAp
  pooltag search +vendor:contoso "name:wd*"
  pooltag search --json --limit 5 core.sys

Exit codes: 0 found, 1 usage error (a bad query) or no knowledge base, 3 nothing found.`;

export const MERGE_HELP = `
Takes scan reports (JSON or NDJSON, gzipped or not), folders of them, quoted wildcard
patterns ("reports/*.json.gz", expanded by pooltag), or - for stdin. A report merged before is
skipped (merging twice changes nothing) and a malformed one is refused whole, with the reason.
A fleet's reports are committed in batches (2,000 reports or 5 s): an interrupted merge keeps
what it committed, and running it again goes on from there. A report made with scan --known
lists the files of images the base already has as inventory (which host has which image at
which path, first and last seen); a base that lacks one of those images refuses the report.
Several merges into one base at once are safe: a second writer waits for the first (and says
so once); on PostgreSQL (--db postgres://...) writers take turns batch by batch and readers
never wait. A file that is not a pooltag base is refused and left untouched; a base made by an
earlier pooltag is migrated.

Examples:
  pooltag merge report.json
  pooltag merge --db fixtures.db fixtures-report.json
  pooltag merge reports
  pooltag merge --db fleet.db "reports/*.json.gz"
  pooltag merge --db postgres://pooltag@dbserver/pooltag reports
  pooltag scan --out - | pooltag merge -

Exit codes: 0 every report merged (or was already), 1 usage error, 2 some reports could not
be read, 130 interrupted (Ctrl-C; it says whether the merge was committed).`;

export const IMPORT_POOLTAG_HELP = `
Without a file it looks where the Debugging Tools install pooltag.txt
(Windows Kits\\10, 8.1, 8.0\\Debuggers\\x64, x86, arm64\\triage, and the WinDbg app), on
Windows and under WSL. Every distinct copy is kept with its path, label and date; a newer
copy never erases what an older one said.

Examples:
  pooltag import-pooltag
  pooltag import-pooltag "C:\\Program Files (x86)\\Windows Kits\\10\\Debuggers\\x64\\triage\\pooltag.txt"
  pooltag import-pooltag --label "WDK 7.1" old/pooltag.txt

Exit codes: 0 imported (or already), 1 usage error or no pooltag.txt found, 2 some files
could not be read or are not a pooltag.txt.`;

export const SHOW_HELP = `
The images found by file name (or OriginalFilename, or SHA-256 prefix of 8 or more hex
digits) are one block per driver: its builds summarised, the lead build's SHA-256, PDB path
and signer, its tags at call sites (allocations before frees, in how many of the builds) and
its strings. A tag whose byte is not printable is printed as \\xNN, as lookup takes it.
--builds lists each build, --all every call site; --json has every build's full record.

Examples:
  pooltag show core.sys
  pooltag show --db fixtures.db --builds --all core.sys
  pooltag show ab262f51

Exit codes: 0 found, 1 usage error or no knowledge base, 3 no such driver.`;

export const STATS_HELP = `
Hosts and reports merged, drivers and paths, call sites and distinct tags, the pooltag.txt
copies, notes, and the search index (stale until the next search after a change).

Examples:
  pooltag stats
  pooltag stats --db fixtures.db --json

Exit codes: 0 success, 1 usage error or no knowledge base.`;

export const NOTE_HELP = `
A note is shown first by every lookup of the tag, by triage and in the exports, with its
author and date.

Examples:
  pooltag note ShAp "Contoso share cache; fixed in 2.1.5 (case 4711)"
  pooltag note --author alice FxAp "leaks on unload, vendor case 123"

Exit codes: 0 saved, 1 usage error.`;

export const EXPORT_HELP = `
Publishes the base to the tools engineers already use. Every tag the base has an owner for is
exported (call sites, pooltag.txt entries, notes); each driver file once per tag.
  pooltag   pooltag.txt for WinDbg (!poolused and !pool): one line per scanned tag (the
            driver files, vendor, version and evidence), plus the base's pooltag.txt
            entries; --merge-with FILE writes Microsoft's file through unchanged and adds ours.
            The debugger reads Debuggers\\x64\\triage\\pooltag.txt: keep a copy of Microsoft's,
            then write ours in its place (--force is needed to overwrite a triage\\pooltag.txt).
  localtag  poolmon's localtag.txt (poolmon /g localtag.txt), under poolmon's 1,000,000-byte
            limit: the most useful lines first, the summary says what was left out.
  csv       one row per tag and owner, UTF-8 with BOM; cells Excel would convert or evaluate
            are written as ="text".
  json      the same rows, typed.
  html      one self-contained page (search as you type, no network, no server; its data is
            gzip-compressed inside it, which a current Edge, Chrome, Firefox or Safari unpacks).
  known     the SHA-256 of every image the base holds (gzipped, one per line), for
            scan --known on the hosts of a fleet: their reports then carry in full only the
            images the base lacks, and the rest as inventory.

Examples:
  pooltag export --format pooltag --out pooltag-org.txt
  pooltag export --format pooltag --merge-with "C:\\Program Files (x86)\\Windows Kits\\10\\Debuggers\\x64\\triage\\pooltag.txt" --out pooltag.txt
  pooltag export --format localtag --out localtag.txt
  pooltag export --format csv --out tags.csv
  pooltag export --format json --out tags.json
  pooltag export --db fixtures.db --format html --out pooltags.html
  pooltag export --db fleet.db --format known --out known.txt.gz

Exit codes: 0 written, 1 usage error, no knowledge base, or the output could not be written.`;
