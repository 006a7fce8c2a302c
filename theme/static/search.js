/* gazette site search: the browser's copy of search/src/lib.rs (terms,
 * ranking, snippets), so that a query gives the same results here as from
 * the server's GET /search. ES5 only, no fetch: the index arrives as
 * <script> files (search/*.js), which load from file:// too, and only the
 * shards a query needs are loaded. */
(function () {
  "use strict";
  var form = document.getElementById("search-form");
  var input = document.getElementById("search-q");
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  if (!form || !input || !status || !list || !document.createElement) return;
  var base = form.getAttribute("data-index") || "";
  var LIMIT = 10, SNIPPET_BEFORE = 30, SNIPPET_LEN = 120;
  var loaded = {}, waiting = {};

  /* Every index file calls this with its name and contents. */
  window.gazetteSearch = function (name, data) {
    loaded[name] = data;
    var cbs = waiting[name] || [];
    delete waiting[name];
    for (var i = 0; i < cbs.length; i++) cbs[i]();
  };

  function load(names, done) {
    var left = 0, failed = false;
    function one() { if (--left === 0 && !failed) done(); }
    for (var i = 0; i < names.length; i++) {
      var n = names[i];
      if (loaded.hasOwnProperty(n)) continue;
      left++;
      if (waiting[n]) { waiting[n].push(one); continue; }
      waiting[n] = [one];
      var s = document.createElement("script");
      s.src = base + n + ".js";
      s.onerror = function () { failed = true; say("搜索索引未能加载，请稍后再试。"); };
      document.getElementsByTagName("head")[0].appendChild(s);
    }
    if (left === 0) done();
  }

  function normalize(s) {
    if (s.normalize) s = s.normalize("NFKC");
    else s = s.replace(/[\uFF01-\uFF5E]/g, function (c) {
      return String.fromCharCode(c.charCodeAt(0) - 0xFEE0);
    }).replace(/\u3000/g, " ");
    return s.toLowerCase();
  }

  function isCjk(cp) {
    return (cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
      (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7AF) ||
      (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x20000 && cp <= 0x3134F);
  }

  var wordRe;
  try { wordRe = new RegExp("[\\p{L}\\p{N}]", "u"); } catch (e) { wordRe = /[0-9a-z\u00C0-\u024F\u0370-\u03FF\u0400-\u04FF]/; }

  /* Code points of a string, as [codePoint, text] pairs. */
  function chars(s) {
    var out = [];
    for (var i = 0; i < s.length; i++) {
      var c = s.charCodeAt(i);
      if (c >= 0xD800 && c <= 0xDBFF && i + 1 < s.length) {
        var d = s.charCodeAt(i + 1);
        out.push([(c - 0xD800) * 0x400 + (d - 0xDC00) + 0x10000, s.substr(i, 2)]);
        i++;
      } else out.push([c, s.charAt(i)]);
    }
    return out;
  }

  function queryTerms(q) {
    var out = [], cjk = [], word = "";
    function push(t) { for (var i = 0; i < out.length; i++) if (out[i] === t) return; out.push(t); }
    function flushCjk() {
      if (cjk.length === 1) push(cjk[0]);
      for (var i = 0; i + 1 < cjk.length; i++) push(cjk[i] + cjk[i + 1]);
      cjk = [];
    }
    function flushWord() { if (word) push(word); word = ""; }
    var cs = chars(normalize(q));
    for (var i = 0; i < cs.length; i++) {
      if (isCjk(cs[i][0])) { flushWord(); cjk.push(cs[i][1]); }
      else {
        if (cjk.length) flushCjk();
        if (wordRe.test(cs[i][1])) word += cs[i][1]; else flushWord();
      }
    }
    flushCjk(); flushWord();
    return out;
  }

  /* The shard of a term: search/src/lib.rs term_shard, the same arithmetic. */
  function shardOf(term, shards) {
    var h = 0;
    for (var i = 0; i < term.length; i++) h = (h * 31 + term.charCodeAt(i)) % 2147483647;
    return h % shards;
  }

  /* A term's postings: "doc delta, score, ..." in base64 VLQ (5 bits a
   * digit, lowest first, 32 added while more follow; search/src/lib.rs
   * vlq_push). Plain arithmetic, not bit shifts, so numbers past 2^31 stay
   * exact. */
  var DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", VALUE = [];
  for (var v = 0; v < 64; v++) VALUE[DIGITS.charCodeAt(v)] = v;

  function decode(text) {
    var out = [], doc = 0, n = 0, scale = 1, delta = -1;
    for (var i = 0; i < text.length; i++) {
      var d = VALUE[text.charCodeAt(i)];
      n += (d & 31) * scale;
      if (d & 32) { scale *= 32; continue; }
      if (delta < 0) delta = n;
      else { doc += delta; out.push([doc, n]); delta = -1; }
      n = 0; scale = 1;
    }
    return out;
  }

  /* Documents in every list, scores summed, best first. */
  function rank(lists) {
    if (!lists.length) return [];
    var out = lists[0].slice();
    for (var k = 1; k < lists.length; k++) {
      var l = lists[k], kept = [], j = 0;
      for (var i = 0; i < out.length; i++) {
        while (j < l.length && l[j][0] < out[i][0]) j++;
        if (j < l.length && l[j][0] === out[i][0]) kept.push([out[i][0], out[i][1] + l[j][1]]);
      }
      out = kept;
    }
    out.sort(function (a, b) { return b[1] - a[1] || a[0] - b[0]; });
    return out;
  }

  /* The part a result leads to: most query terms, then most occurrences,
   * then the earlier part (search/src/lib.rs best_part). */
  function bestPart(parts, terms) {
    var best = null, bestN = -1;
    for (var p = 0; p < parts.length; p++) {
      var hay = (parts[p][1] + " " + parts[p][2]).replace(/[A-Z]/g, function (c) { return c.toLowerCase(); });
      var distinct = 0, total = 0;
      for (var k = 0; k < terms.length; k++) {
        var t = terms[k], hits = 0;
        if (!t) continue;
        for (var i = 0; i + t.length <= hay.length; i++) if (hay.substr(i, t.length) === t) hits++;
        if (hits > 0) distinct++;
        total += hits;
      }
      var n = distinct * 100000 + total;
      if (n > bestN) { best = parts[p]; bestN = n; }
    }
    return best;
  }

  function esc(s) {
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  function snippet(text, terms) {
    var folded = text.replace(/[A-Z]/g, function (c) { return c.toLowerCase(); });
    var marks = [], first = -1, i, k;
    for (i = 0; i < text.length; i++) marks.push(false);
    for (i = 0; i < folded.length; i++) {
      for (k = 0; k < terms.length; k++) {
        var t = terms[k];
        if (t && folded.substr(i, t.length) === t) {
          if (first < 0) first = i;
          for (var m = i; m < i + t.length; m++) marks[m] = true;
        }
      }
    }
    var start = first < 0 ? 0 : Math.max(0, first - SNIPPET_BEFORE);
    var end = Math.min(start + SNIPPET_LEN, text.length);
    function low(u) { return u >= 0xDC00 && u <= 0xDFFF; }
    if (start > 0 && low(text.charCodeAt(start))) start--;
    if (end < text.length && low(text.charCodeAt(end))) end++;
    var out = start > 0 ? "\u2026" : "";
    i = start;
    while (i < end) {
      var on = marks[i], j = i;
      while (j < end && marks[j] === on) j++;
      var piece = esc(text.substring(i, j));
      out += on ? "<mark>" + piece + "</mark>" : piece;
      i = j;
    }
    if (end < text.length) out += "\u2026";
    return out;
  }

  function say(text) { status.innerHTML = ""; status.appendChild(document.createTextNode(text)); }

  function show(q, terms, ranked, meta) {
    var top = ranked.slice(0, LIMIT), shards = [], seen = {};
    for (var i = 0; i < top.length; i++) {
      var s = "docs-" + Math.floor(top[i][0] / meta.docs_per_shard);
      if (!seen[s]) { seen[s] = true; shards.push(s); }
    }
    load(shards, function () {
      var html = "";
      for (var i = 0; i < top.length; i++) {
        var d = loaded["docs-" + Math.floor(top[i][0] / meta.docs_per_shard)][top[i][0] % meta.docs_per_shard];
        var part = bestPart(d.parts, terms) || ["", "", ""];
        var url = d.url + (part[0] ? "#" + part[0] : "");
        html += "<li><h2 class=\"search-hit-title\"><a href=\"" + esc(root + url) + "\">" + esc(d.title) +
          (part[1] ? " \u203A " + esc(part[1]) : "") + "</a></h2>" +
          (d.section ? "<p class=\"search-hit-section\">" + esc(d.section) + "</p>" : "") +
          "<p class=\"search-hit-snippet\">" + snippet(part[2], terms) + "</p></li>";
      }
      list.innerHTML = html;
      say(ranked.length ? "“" + q + "”共找到 " + ranked.length + " 条结果" +
        (ranked.length > LIMIT ? "，显示前 " + LIMIT + " 条" : "") + "。"
        : "没有找到与“" + q + "”相关的内容。请换一个词，或减少字数再试。");
    });
  }

  var root = form.getAttribute("data-root") || "";

  function run(q) {
    q = q.replace(/^\s+|\s+$/g, "");
    list.innerHTML = "";
    if (!q) { say("请输入要查找的词语。"); return; }
    var terms = queryTerms(q);
    if (!terms.length) { say("没有找到与“" + q + "”相关的内容。请换一个词再试。"); return; }
    say("正在搜索……");
    load(["meta"], function () {
      var meta = loaded.meta, names = [], seen = {}, i;
      for (i = 0; i < terms.length; i++) {
        var n = "terms-" + shardOf(terms[i], meta.term_shards);
        if (!seen[n]) { seen[n] = true; names.push(n); }
      }
      load(names, function () {
        var lists = [];
        for (var i = 0; i < terms.length; i++) {
          var shard = loaded["terms-" + shardOf(terms[i], meta.term_shards)];
          if (!shard.hasOwnProperty(terms[i])) { lists = []; break; }
          lists.push(decode(shard[terms[i]]));
        }
        show(q, terms, rank(lists), meta);
      });
    });
  }

  function param(name) {
    var m = new RegExp("[?&]" + name + "=([^&#]*)").exec(location.search);
    if (!m) return "";
    try { return decodeURIComponent(m[1].replace(/\+/g, " ")); } catch (e) { return ""; }
  }

  form.onsubmit = function () {
    if (window.history && history.replaceState) {
      try { history.replaceState(null, "", "?q=" + encodeURIComponent(input.value)); } catch (e) { /* file:// in some browsers */ }
    }
    run(input.value);
    return false;
  };
  var initial = param("q");
  if (initial && !list.getAttribute("data-server")) { input.value = initial; run(initial); }
})();
