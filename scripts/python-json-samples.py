"""Regenerates test/fixtures/python-json-samples.json: Python's own json.dumps output for floats,
strings and objects, the ground truth our key hash input must reproduce. Run with python3 from the
repository root; the tests read the committed file and need no Python."""
import json

floats = [0.1, 0.2, 0.3, 1.5, -0.5, 1e21, 1e22, 1e-7, 1.5e-7, 123456.789, 1e16, 1e15 + 0.5, 9007199254740993.0,
          1e-4, 1e-5, 0.00012345, 5e-324, 1.7976931348623157e308, 2.5e-10, 3.141592653589793, -2.718281828459045,
          1234567890123456.7, 12345678901234567.0, 100.25, 1e100, -1e-100, 0.1 + 0.2, 4.35, 2**53 + 2.0, 2**60 * 1.0]
strings = ["", "plain", "quote \" back \\ slash", "\n\r\t\b\f", "\x00\x01\x1f\x7f", "é ñ ü", "日本語", "😀 astral",
           "\ud7ff\ue000\uffff", "mixed ascii ~ and \u2028 sep", "/slash"]
objects = [{"b": 1, "a": 2, "é": 3, "Z": 4, "😀": 5, "\uffff": 6}, {"nested": {"z": [1, {"y": None, "x": True}], "a": []}}]

out = {
    "floats": [{"value": f, "json": json.dumps(f)} for f in floats],
    "strings": [{"value": s, "json": json.dumps(s)} for s in strings],
    "objects": [{"value": o, "json": json.dumps(o, sort_keys=True)} for o in objects],
}
with open("test/fixtures/python-json-samples.json", "w") as f:
    f.write(json.dumps(out, indent=1, ensure_ascii=True))
