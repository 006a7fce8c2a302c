"""Writes a filled 附件1 (departments) workbook of N distinct rows, as a
minimal .xlsx (inline strings, one sheet), with the standard library only.

    python3 tests/bench/make_xlsx.py 60000 /tmp/rows.xlsx [prefix]
"""
import sys
import zipfile
from xml.sax.saxutils import escape

HEADER = ["单位全称", "统一社会信用代码", "单位类型", "单位地址", "系统管理员姓名",
          "办公电话", "手机", "电子邮箱", "填报人"]
VALUES = ["11441700007280420Y", "机关", "梅州市梅江区江南路1号", "张三",
          "0753-2128309", "13812345678", "admin@example.org", "李四"]


def col(i):
    return chr(ord("A") + i)


def row_xml(r, cells):
    cs = "".join(
        f'<c r="{col(c)}{r}" t="inlineStr"><is><t>{escape(v)}</t></is></c>'
        for c, v in enumerate(cells))
    return f'<row r="{r}">{cs}</row>'


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    prefix = sys.argv[3] if len(sys.argv) > 3 else "导入单位"
    rows = [row_xml(1, HEADER)]
    rows += [row_xml(i + 2, [f"{prefix}{i}"] + VALUES) for i in range(n)]
    sheet = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f'<sheetData>{"".join(rows)}</sheetData></worksheet>')
    ns = "http://schemas.openxmlformats.org"
    parts = {
        "[Content_Types].xml":
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<Types xmlns="{ns}/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '</Types>',
        "_rels/.rels":
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<Relationships xmlns="{ns}/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{ns}/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
            '</Relationships>',
        "xl/workbook.xml":
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<workbook xmlns="{ns}/spreadsheetml/2006/main" xmlns:r="{ns}/officeDocument/2006/relationships">'
            '<sheets><sheet name="市直主管部门信息一览表" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels":
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<Relationships xmlns="{ns}/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{ns}/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            '</Relationships>',
        "xl/worksheets/sheet1.xml": sheet,
    }
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in parts.items():
            z.writestr(name, text)


main()
