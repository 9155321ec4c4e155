"""Tables as downloads: CSV (UTF-8, comma-separated) and OpenDocument spreadsheets (ODS, through
odfpy), the same rows in both. Numbers are numeric cells in ODS; a secret value is the text
``secret``, as in CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from fastapi import Response
from odf.opendocument import OpenDocumentSpreadsheet
from odf.table import Table, TableCell, TableRow
from odf.text import P

ODS_MEDIA_TYPE = "application/vnd.oasis.opendocument.spreadsheet"

Rows = Sequence[Sequence[object]]


def csv_bytes(rows: Rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue()


def _cell(value: object) -> TableCell:
    if isinstance(value, bool) or value is None or value == "":
        text = "" if value is None else str(value)
        cell = TableCell(valuetype="string")
        if text:
            cell.addElement(P(text=text))
        return cell
    if isinstance(value, int | float):
        cell = TableCell(valuetype="float", value=value)
        cell.addElement(P(text=str(value)))
        return cell
    cell = TableCell(valuetype="string")
    cell.addElement(P(text=str(value)))
    return cell


def ods_bytes(sheets: Sequence[tuple[str, Rows]]) -> bytes:
    """A spreadsheet with one sheet per ``(name, rows)``."""
    document = OpenDocumentSpreadsheet()
    for name, rows in sheets:
        table = Table(name=name[:31])
        for row in rows:
            line = TableRow()
            for value in row:
                line.addElement(_cell(value))
            table.addElement(line)
        document.spreadsheet.addElement(table)
    buffer = io.BytesIO()
    document.write(buffer)
    return buffer.getvalue()


def csv_response(rows: Rows, filename: str) -> Response:
    return Response(
        csv_bytes(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


def ods_response(sheets: Sequence[tuple[str, Rows]], filename: str) -> Response:
    return Response(
        ods_bytes(sheets),
        media_type=ODS_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}.ods"'},
    )
