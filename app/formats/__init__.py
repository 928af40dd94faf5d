"""The formats the register is read and written in: GeoJSON, spreadsheets (CSV, XLSX), and what counts as visible
text."""
