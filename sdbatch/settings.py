"""Generic knobs, in one place (STYLE §7).

Program numbers (thresholds, quotas, clauses, wording) are *not* here: they live in the
rules file of each program round under ``sdbatch/programs/``.
"""

# --- finding the table -------------------------------------------------------------------
HEADER_SEARCH_ROWS = 30  # look for the header row within the first N rows of a sheet
MIN_HEADER_MATCHES = 3  # a header row names at least this many known fields
MAX_HEADER_DEPTH = 3  # header rows joined at most (two-row merged headers, plus a units row)

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
MAX_CSV_LINE_BYTES = 1024 * 1024

# --- decisions ---------------------------------------------------------------------------
RATIO_TOLERANCE_POINTS = 0.1  # declared vs derived ratio, in percentage points

# --- files in the inbox ------------------------------------------------------------------
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".csv", ".et", ".xltx")
IGNORED_PREFIXES = ("~$", ".~lock", ".")  # Excel/WPS/LibreOffice lock files, hidden files
