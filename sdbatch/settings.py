"""Generic knobs, in one place (STYLE §7).

Program numbers (thresholds, quotas, clauses, wording) are *not* here: they live in the
rules file of each program round under ``sdbatch/programs/``.
"""

# --- finding the table -------------------------------------------------------------------
HEADER_SEARCH_ROWS = 30  # look for the header row within the first N rows of a sheet
MIN_HEADER_MATCHES = 3  # a header row names at least this many known fields
MAX_HEADER_DEPTH = 3  # header rows joined at most (two-row merged headers, plus a units row)
# A workbook's further sheets holding the same program's table are read too when their table names
# at least this share of the fields the chosen sheet's does (parks split by type over two sheets);
# a partial table (草稿) or a copy of the chosen sheet's rows (打印版) is reported, not read.
MORE_TABLE_MIN_SHARE = 0.75
MAX_HEADER_CHARS = 200  # a longer cell is a note or a paragraph, never read as a column header
MAX_NAME_CHARS = 120  # an attachment's or member's file name written to disk, in characters
MAX_NAME_BYTES = 200  # and in UTF-8 bytes: Linux allows 255 per name, and a copy may add " (2)" or ".part"
MAX_STATEMENT_CHARS = 300  # a unit statement (单位：万元) is looked for in clauses up to this long

# --- reading -----------------------------------------------------------------------------
# .xlsx/.xlsm up to this size are read in full mode (merged cells, hidden rows, formulas
# without a cached value); larger ones are streamed (values and number formats only).
FULL_READ_MAX_BYTES = 3 * 1024 * 1024
CSV_ENCODINGS = ("utf-8-sig", "gb18030")  # tried in order; GB18030 is a superset of GBK/GB2312

# --- limits before work (hostile files, issue 8) ----------------------------------------
MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_ZIP_MEMBERS = 2000
MAX_UNCOMPRESSED_BYTES = 400 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200  # per member, uncompressed / compressed
MAX_CELL_CHARS = 32767  # Excel's own limit; longer text is cut with a finding
MAX_ROWS = 200_000
MAX_COLS = 512
MAIL_MAX_APPS = 200  # applications listed one by one in a city's e-mail; the attached review lists every one
MAX_CSV_LINE_BYTES = 1024 * 1024

# --- decisions ---------------------------------------------------------------------------
RATIO_TOLERANCE_POINTS = 0.1  # declared vs derived ratio, in percentage points
OTHER_TERM_MIN_CHARS = 3  # a listed industry term the rules do not have (物联网): this many characters at least
TOTAL_TOLERANCE = 0.001  # an unlabelled totals row: its numbers are the sums of their columns within this share (rounding)

# --- jurisdiction ------------------------------------------------------------------------
# The jurisdiction (sdbatch/jurisdictions/<name>.toml) of a rules file that names none, and of
# the commands that read no rules file (sdbatch status, mail send).
JURISDICTION = "shandong"

# --- e-mail ------------------------------------------------------------------------------
ADDRESS_BOOK = "config/address_book.toml"  # relative to the working folder, else to the inbox's parent
# `mail send` (sdbatch/sending.py): SMTP transactions tried per message in one send when the server
# answers 4xx or the connection drops before the message was sent; the wait before the second
# attempt, doubled for each further one; the socket timeout of one SMTP command.
MAIL_SEND_ATTEMPTS = 3
MAIL_RETRY_BACKOFF_S = 5.0
MAIL_TIMEOUT_S = 60.0
MAIL_JOURNAL = "journal.sqlite3"  # in <run>/mail/: every SMTP transaction, before and after (mail_journal.py)
MAIL_SEND_LOCK = ".send.lock"  # in <run>/mail/: one `mail send` per run folder at a time

# --- review workbooks (sdbatch/writers/review/) -----------------------------------------
# Number formats of 审核结论 by field type (amounts in 亿元 and ratios in % with 2 decimals,
# counts as integers); "score" for 综合得分.
REVIEW_NUMBER_FORMATS = {"amount": "0.00", "ratio": "0.00", "count": "0", "int": "0", "score": "0.00"}
REVIEW_WIDTH_SAMPLE_ROWS = 2000  # column widths by content are measured on the first rows
REVIEW_WRAP_WIDTH = 40  # a column of long text wraps at this width (characters)
REVIEW_MAX_WIDTH = 30  # other columns at most this wide
# Functions a data validation or conditional format of a city's sheet may call and still be copied
# into its review: they read the sheet and nothing else.  Any other (WEBSERVICE, FILTERXML, IMAGE,
# RTD, CALL, REGISTER.ID, INDIRECT, HYPERLINK, or one not known here) drops the rule: Excel
# evaluates a conditional format as soon as the sheet is shown.
RULE_FUNCTIONS = frozenset("""
    ABS AND AVERAGE AVERAGEIF AVERAGEIFS CEILING CHAR CHOOSE CLEAN CODE COLUMN COLUMNS CONCAT
    CONCATENATE COUNT COUNTA COUNTBLANK COUNTIF COUNTIFS DATE DATEDIF DATEVALUE DAY DAYS EDATE
    EOMONTH EXACT FALSE FIND FINDB FLOOR HLOOKUP HOUR IF IFERROR IFNA IFS INDEX INT ISBLANK ISERR
    ISERROR ISEVEN ISLOGICAL ISNA ISNONTEXT ISNUMBER ISODD ISTEXT LARGE LEFT LEFTB LEN LENB LOOKUP
    LOWER MATCH MAX MAXIFS MID MIDB MIN MINIFS MINUTE MOD MONTH NETWORKDAYS NOT NOW OR PROPER RANK
    REPLACE REPT RIGHT RIGHTB ROUND ROUNDDOWN ROUNDUP ROW ROWS SEARCH SEARCHB SECOND SMALL SUBSTITUTE
    SUM SUMIF SUMIFS SUMPRODUCT SWITCH TEXT TIME TODAY TRIM TRUE UNICODE UPPER VALUE VLOOKUP WEEKDAY
    WEEKNUM XOR YEAR
""".split())

# --- files in the inbox ------------------------------------------------------------------
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".csv", ".et", ".xltx")
IGNORED_PREFIXES = ("~$", ".~lock", ".")  # Excel/WPS/LibreOffice lock files, hidden files

# --- more limits before work (issue 8, sdbatch/reading/limits.py) ------------------------
MAX_ZIP_DIRECTORY_BYTES = 4 * 1024 * 1024  # central directory size, checked before zipfile loads it
ZIP_RATIO_MIN_BYTES = 1024 * 1024  # members smaller than this (uncompressed) skip the ratio check
XML_PROLOG_SCAN_BYTES = 64 * 1024  # XML parts are read up to their root element to refuse DTDs
MAX_CELLS = 5_000_000  # cells read from one file (spans expanded in HTML / XML 2003 tables)
MAX_SHEET_XML_BYTES = 256 * 1024 * 1024  # one worksheet part (xl/worksheets/*.xml, ods content.xml), declared size;
# sheets above FULL_READ_MAX_SHEET_XML_BYTES are streamed, and reading stops past MAX_CELLS cells
# reading: read .xlsx in full mode only when its largest sheet part is at most this (limits.sheet_xml_bytes);
# full mode holds every cell twice (values + formulas): ~700 bytes a cell, a 600 KB file can hold 5 M cells.
FULL_READ_MAX_SHEET_XML_BYTES = 8 * 1024 * 1024

# --- work in proportion to content (issue 15, sdbatch/reading/) --------------------------
# The review writer copies a city's sheet from its .xlsx (styles and all) only when openpyxl
# would lay out at most this many cells for it (rows x columns up to the farthest cell element
# or merged range, styled empty ones too); otherwise it rebuilds the sheet from the values read.
FULL_READ_MAX_GRID_CELLS = 250_000
# Merged ranges of one sheet: a range reaching more than MERGED_RANGE_SLACK rows or columns past
# the last value is clipped to the values (or ignored when it starts past them), with a finding;
# past MAX_MERGED_RANGES ranges or MAX_MERGED_CELLS covered cells the rest are ignored.  openpyxl
# makes one object per covered cell, and the review writer merges the same ranges again.
MERGED_RANGE_SLACK = 100
MAX_MERGED_RANGES = 10_000
MAX_MERGED_CELLS = 250_000
# Sheets of one workbook: each is loaded (twice in full mode), searched for a table and copied
# into the review, whatever it holds; a city's summary workbook has a handful.
MAX_SHEETS = 100
# An .xls xlrd cannot open is read by python-calamine in a child process (reading.calamine.read_apart):
# longer than this, the child is stopped and the file rejected as unreadable.
CHILD_READ_TIMEOUT_S = 120.0
# Reading findings about single cells or ranges (illegal-characters-removed, merged-range-*): at
# most this many per sheet, then one finding for the rest.
MAX_CELL_NOTES = 20
# Texts of at most this many characters that repeat down a sheet are held once while it is read
# (memory, issue 16), up to this many distinct ones per sheet.
SHARED_TEXT_CHARS = 12
SHARED_TEXTS = 50_000

# --- printing (issue 14 Build 5; sdbatch/writers/printing.py) ----------------------------
PRINT_FONT_PT = 11.0  # the body font of the lists and templates
PRINT_MIN_FONT_PT = 8.0  # text never prints smaller than this …
PRINT_MIN_SCALE = 60  # … nor at a scale below this (percent): wider tables are split into blocks
PRINT_SPLIT_SCALE = 85  # the scale of a table printed in blocks of columns
# Excel number formats (issue 14); by unit in ui.toml [number_formats] (亿元 and % with 2 decimals, 万元 whole).
COUNT_NUMBER_FORMAT = "0"  # fields of type count / int
DECIMAL_NUMBER_FORMAT = "0.00"  # other numbers (amounts in another unit, scores)

# --- time (issue 14) ----------------------------------------------------------------------
# Every time a person reads (run ids, run.log, the lock, the ledger, `sdbatch status`, lateness)
# is in this zone, whatever the server's own zone (sdbatch.clock).  Asia/Shanghai has kept UTC+8
# without daylight saving since 1991: the offset below is used where the system has no zone data.
TIME_ZONE = "Asia/Shanghai"
TIME_ZONE_FALLBACK_HOURS = 8

# --- the ledger and unattended runs (issue 15) --------------------------------------------
LEDGER_BUSY_TIMEOUT_S = 10.0  # wait this long for another process's write lock, then "locked"
# The decisions staff record (sdbatch decide) are also appended to <ledger><this suffix>, so that a
# damaged ledger loses none of them (sdbatch/history/journal.py).
DECISIONS_JOURNAL_SUFFIX = ".decisions.jsonl"
RUN_JSON_MAX_BYTES = 16 * 1024 * 1024  # a run folder's run.json/results.json read back (recovery)

# --- intake: saved messages, archives and the mailbox (issue 18, sdbatch/intake/) ---------
# Containers in the inbox (.eml/.msg saved from a mail client, .zip/.7z/.rar) are opened under the
# archive limits above (MAX_FILE_BYTES per container and per member, MAX_ZIP_MEMBERS members,
# MAX_UNCOMPRESSED_BYTES in all -- for a container and everything nested in it together --,
# MAX_COMPRESSION_RATIO per member), checked on the declared sizes before anything is decompressed.
MESSAGE_SUFFIXES = (".eml", ".msg")
ARCHIVE_SUFFIXES = (".zip", ".7z", ".rar")
MAX_NESTING_DEPTH = 3  # containers within containers: a saved message > a zip > a zip; one more is refused
MAX_MESSAGE_BYTES = 100 * 1024 * 1024  # one message (saved or fetched); larger ones are not opened
MAX_MESSAGE_PARTS = 500  # MIME parts of one message
MAX_7Z_HEADER_BYTES = 1024 * 1024  # a 7z's header (its file list), stored and decompressed; 2,000 long names fit
MAX_SEPARATE_EXTRACTIONS = 20  # 7z members taken one by one when extracting them together failed
MAX_HEADER_CHARS = 16_384  # a header's text decoded at most (decoding encoded words is quadratic in Python)
MAX_LISTED_MEMBERS = 20  # a container's finding names at most this many of its members
# `sdbatch fetch` (sdbatch/intake/imap.py): the settings file, where the original messages are kept
# (relative to the inbox's parent folder: beside the inbox, never in it), the marker file that
# keeps a batch from reading that folder even when it lies under an inbox, and the IMAP timeout.
MAILBOX_SETTINGS = "config/mailbox.toml"  # relative to the working folder, else to the inbox's parent
MAILBOX_ARCHIVE = "mailbox-archive"
MAILBOX_ARCHIVE_MARKER = ".sdbatch-mailbox-archive"
IMAP_TIMEOUT_S = 60.0
IMAP_FETCH_BATCH = 50  # message headers fetched per IMAP command
# A message's Date and the time the server received it (fetched mail) further apart than this give
# a finding for staff: the Date is the sender's clock.
MESSAGE_DATE_TOLERANCE_S = 24 * 3600

# --- evidence lists (sdbatch/evidence/) --------------------------------------------------
# Enterprise lists behind the declared figures run to 10^5-10^6 rows: their own limits.  A list
# is located on its first rows (HEADER_SEARCH_ROWS) and read column by column below.
MAX_LIST_ROWS = 1_048_576  # Excel's own row limit
MAX_LIST_CELLS = 20_000_000  # the rectangle calamine lays out for one list sheet (about 32 bytes a cell)
LIST_READ_CHUNK = 16_384  # rows transposed into columns and parsed at once
LIST_SHOWN_ROWS = 20  # row numbers written out behind a figure or a problem (then "…")
