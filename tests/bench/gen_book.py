#!/usr/bin/env python3
"""A generated Chinese mdBook for the manuals benchmark (tests/bench/book.sh).

    gen_book.py OUT_DIR [CHAPTERS] [KB_PER_CHAPTER]     default: 400 15

Writes OUT_DIR/book.toml and OUT_DIR/src/: SUMMARY.md with parts, nesting
and a comment; chapters with headings, tables, Rust code blocks (hidden
lines, an include), footnotes, task lists, alerts, and links to other
chapters' anchors. Deterministic (fixed seed), so every run builds the same.
"""
import os
import random
import sys

out = sys.argv[1]
chapters = int(sys.argv[2]) if len(sys.argv) > 2 else 400
kb = int(sys.argv[3]) if len(sys.argv) > 3 else 15
rng = random.Random(216)
HAN = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研质"
PUNCT = "，，，。；、"
parts = 20
per_part = max(1, chapters // parts)

def sentence(n):
    s = "".join(rng.choice(HAN) for _ in range(n))
    if n >= 12:
        for c in reversed(sorted(rng.sample(range(4, n - 2), 3))):
            s = s[:c] + rng.choice(PUNCT) + s[c:]
    return s + "。"

os.makedirs(os.path.join(out, "src", "code"), exist_ok=True)
with open(os.path.join(out, "book.toml"), "w") as f:
    f.write('[book]\ntitle = "基准测试手册"\nlanguage = "zh-CN"\n\n[output.html]\n\n'
            '[output.gazette]\noptional = true\nannex = 7\naudience = "基准"\n')
with open(os.path.join(out, "src", "code", "lib.rs"), "w") as f:
    f.write("// ANCHOR: demo\nfn demo() -> u32 {\n    42\n}\n// ANCHOR_END: demo\n")

names = []
summary = ["# Summary", "", "<!--", "多行注释：", "- [不是章节](nope.md)", "-->", "",
           "[前言](README.md)", ""]
for p in range(parts):
    summary.append(f"# 第{p + 1}部分")
    summary.append("")
    for c in range(per_part):
        name = f"p{p:02}/c{c:02}.md"
        names.append(name)
        indent = "" if c == 0 else "    "
        summary.append(f"{indent}- [第{p + 1}部分第{c + 1}章 {sentence(6)[:-1]}]({name})")
    summary.append("")
with open(os.path.join(out, "src", "SUMMARY.md"), "w") as f:
    f.write("\n".join(summary) + "\n")
with open(os.path.join(out, "src", "README.md"), "w") as f:
    f.write("# 前言\n\n" + sentence(80) + "\n")

target = kb * 1024
for i, name in enumerate(names):
    os.makedirs(os.path.join(out, "src", os.path.dirname(name)), exist_ok=True)
    parts_out = [f"# 第{i + 1}章 {sentence(8)[:-1]}\n"]
    size = 0
    sec = 0
    while size < target:
        sec += 1
        title = "概述" if sec == 1 else sentence(6)[:-1]
        block = [f"\n## 第{sec}节 {title}\n"]
        for _ in range(3):
            block.append("\n" + "".join(sentence(rng.randint(30, 60)) for _ in range(3)))
            block.append(f"[^n{sec}]\n")
        other = names[rng.randrange(len(names))]
        rel = os.path.relpath(os.path.join("src", other), os.path.join("src", os.path.dirname(name)))
        here = f"第{sec}节-{title}"
        block.append(f"\n参见[其他章节]({rel}#第1节-概述) 与 [本节](#{here})。\n")
        block.append("\n| 项目 | 说明 | 数量 |\n| --- | --- | ---: |\n")
        for r in range(4):
            block.append(f"| {sentence(4)[:-1]} | {sentence(12)[:-1]} | {rng.randint(1, 999)} |\n")
        block.append("\n```rust\n# use std::fmt;\nfn main() {\n    let 数量 = " + str(sec)
                     + ";\n    println!(\"{}\", 数量);\n}\n```\n")
        if sec % 3 == 0:
            block.append("\n```rust\n{{#include ../code/lib.rs:demo}}\n```\n")
            block.append("\n- [x] 已完成\n- [ ] 待办\n\n> [!NOTE]\n> " + sentence(20) + "\n")
        block.append(f"\n[^n{sec}]: {sentence(15)}\n")
        text = "".join(block)
        parts_out.append(text)
        size += len(text.encode())
    with open(os.path.join(out, "src", name), "w") as f:
        f.write("".join(parts_out))
