"""Generic knobs, in one place (STYLE §7).

Program numbers (thresholds, quotas, clauses, wording) are *not* here: they live in the
rules file of each program round under ``sdbatch/programs/``.
"""

# --- finding the table -------------------------------------------------------------------
HEADER_SEARCH_ROWS = 30  # look for the header row within the first N rows of a sheet
MIN_HEADER_MATCHES = 3  # a header row names at least this many known fields
MAX_HEADER_DEPTH = 3  # header rows joined at most (two-row merged headers, plus a units row)
MAX_HEADER_CHARS = 200  # a longer cell is a note or a paragraph, never read as a column header
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
MAX_CSV_LINE_BYTES = 1024 * 1024

# --- decisions ---------------------------------------------------------------------------
RATIO_TOLERANCE_POINTS = 0.1  # declared vs derived ratio, in percentage points

# --- jurisdiction ------------------------------------------------------------------------
# The jurisdiction (sdbatch/jurisdictions/<name>.toml) of a rules file that names none, and of
# the commands that read no rules file (sdbatch status, mail send).
JURISDICTION = "shandong"

# --- e-mail ------------------------------------------------------------------------------
ADDRESS_BOOK = "config/address_book.toml"  # relative to the working folder, else to the inbox's parent

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
# Reading findings about single cells or ranges (illegal-characters-removed, merged-range-*): at
# most this many per sheet, then one finding for the rest.
MAX_CELL_NOTES = 20
