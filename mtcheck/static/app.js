// The mtcheck page: send the text to POST /v1/check and show the flagged spans in place.
// User text only ever reaches the page through textContent, never as markup.
"use strict";

(() => {
  const SEVERITIES = {
    error: { icon: "✖", word: "error", rank: 3 },
    warning: { icon: "▲", word: "warning", rank: 2 },
    info: { icon: "ℹ", word: "info", rank: 1 },
  };
  const $ = (id) => document.getElementById(id);
  const form = $("check-form");
  const textarea = $("text");
  const fileInput = $("file");
  const ignoreInput = $("ignore");
  const lmBox = $("lm");
  const checkButton = $("check");
  const downloadButton = $("download");
  const statusLine = $("status");
  const results = $("results");
  const rendered = $("rendered");
  const findingsList = $("findings");
  const tip = $("tip");

  let source = "-";
  let maxBody = null;
  let lastRequest = null;
  let findingsShown = [];

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function plural(count, noun) {
    return `${count} ${noun}${count === 1 ? "" : "s"}`;
  }

  function say(message, isError = false) {
    statusLine.textContent = message;
    statusLine.classList.toggle("error", isError);
  }

  // Same wording as the other outputs (mtcheck.formats.base.suggestion_text).
  const SUGGESTION_QUOTE_CHARS = 40;
  function suggestionText(finding) {
    const suggestion = finding.suggestion;
    if (suggestion === null || suggestion === undefined) return null;
    const flagged = finding.text || "";
    if (suggestion === "") {
      if (!flagged.trim()) return flagged ? "delete the space" : null;
      let shown = flagged.trim().split(/\s+/).join(" ");
      if (shown.length > SUGGESTION_QUOTE_CHARS) shown = shown.slice(0, SUGGESTION_QUOTE_CHARS - 1) + "…";
      return `delete “${shown}”`;
    }
    if (!flagged) return `insert “${suggestion}”`;
    return `replace with “${suggestion}”`;
  }

  // The server counts offsets in code points (Python), JavaScript strings in UTF-16 units:
  // units[i] is the UTF-16 index of code point i.
  function codePointUnits(text) {
    const units = [0];
    let unit = 0;
    for (const char of text) {
      unit += char.length;
      units.push(unit);
    }
    return units;
  }

  function requestBody() {
    const options = { lm: lmBox.checked && !lmBox.disabled };
    const ignore = ignoreInput.value.split(/[\s,]+/).filter(Boolean);
    if (ignore.length) options.ignore = ignore;
    return { text: textarea.value, source, options };
  }

  async function post(body, format) {
    const url = format ? `/v1/check?format=${encodeURIComponent(format)}` : "/v1/check";
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      let message = `the server answered ${response.status}`;
      try {
        const problem = await response.json();
        if (problem && problem.message) message = problem.message;
      } catch (_) { /* not JSON: keep the status */ }
      throw new Error(message);
    }
    return response;
  }

  async function check() {
    const body = requestBody();
    const size = new TextEncoder().encode(JSON.stringify(body)).length;
    if (maxBody !== null && size > maxBody) {
      say(`This text is too large for the server (${size} bytes; the limit is ${maxBody}).`, true);
      return;
    }
    checkButton.disabled = true;
    form.setAttribute("aria-busy", "true");
    say("Checking…");
    try {
      const report = await (await post(body)).json();
      lastRequest = body;
      show(body.text, report);
      downloadButton.disabled = false;
    } catch (error) {
      say(`Check failed: ${error.message}`, true);
    } finally {
      checkButton.disabled = false;
      form.removeAttribute("aria-busy");
    }
  }

  // The text with every suggestion applied; where two overlap, the first in the text wins
  // (the same as the HTML report: mtcheck.formats.base.corrected_text).
  function correctedText(text, findings) {
    const units = codePointUnits(text);
    const at = (offset) => units[Math.min(offset, units.length - 1)];
    const fixes = findings.filter((f) => f.suggestion !== null && f.suggestion !== undefined)
      .map((f) => ({ start: at(f.start), end: at(f.end), suggestion: f.suggestion }))
      .sort((a, b) => a.start - b.start || a.end - b.end);
    let out = "", cursor = 0, applied = 0;
    for (const fix of fixes) {
      if (fix.start < cursor) continue;
      out += text.slice(cursor, fix.start) + fix.suggestion;
      cursor = fix.end;
      applied += 1;
    }
    return { text: out + text.slice(cursor), applied };
  }

  const copyButton = $("copy-corrected");
  let corrected = null;
  copyButton.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(corrected.text);
      $("copy-status").textContent = "Copied.";
    } catch (error) {
      $("copy-status").textContent = `Could not copy: ${error.message}`;
    }
  });

  function show(text, report) {
    const doc = report.documents[0];
    const findings = doc.findings;
    findingsShown = findings;
    const counts = report.summary.by_severity;
    let summary = `${plural(findings.length, "finding")}: ${counts.error} error, ${counts.warning} warning, ` +
      `${counts.info} info in ${plural(report.summary.sentences, "sentence")}.`;
    if (doc.fluency !== null && doc.fluency !== undefined) {
      // The words come from thresholds fitted on clean text; the number runs from 0 (garbled) to 1 (fluent).
      const label = doc.fluency_label ? ` (${doc.fluency_label})` : "";
      summary += ` Fluency ${doc.fluency.toFixed(2)}${label}, on a scale from 0 (garbled) to 1 (fluent).`;
    }
    $("summary").textContent = summary;
    groupFindings(findings);
    corrected = correctedText(text, findings);
    copyButton.hidden = corrected.applied === 0;
    copyButton.textContent = `Copy corrected text (${plural(corrected.applied, "suggestion")} applied)`;
    $("copy-status").textContent = "";
    renderText(text, findings);
    renderList(findings);
    results.hidden = false;
    say(findings.length ? `Done: ${summary}` : "Done: no findings.");
    // Bring the results into view when they start below the fold; focus stays where it was.
    if (results.getBoundingClientRect().top > window.innerHeight * 0.8) results.scrollIntoView({ block: "start" });
  }

  function badge(finding, number) {
    const sev = SEVERITIES[finding.severity] || SEVERITIES.info;
    const node = element("sup", `badge sev-${finding.severity}`, `${sev.icon}${number}`);
    node.setAttribute("aria-hidden", "true");
    return node;
  }

  function flagElement(pieceText, covering, findings) {
    const worst = covering.reduce((a, b) =>
      (SEVERITIES[findings[b].severity]?.rank || 0) > (SEVERITIES[findings[a].severity]?.rank || 0) ? b : a);
    const mark = element("mark", `flag sev-${findings[worst].severity}`);
    mark.tabIndex = 0;
    mark.dataset.findings = covering.join(" ");
    // Screen readers get the findings' full entries in the list as the description.
    mark.setAttribute("aria-describedby", [...new Set(covering.map((i) => `finding-${groupFirst[i]}`))].join(" "));
    if (pieceText === "") {
      mark.classList.add("insert");
      mark.textContent = "‸";
    } else {
      mark.textContent = pieceText;
    }
    return mark;
  }

  // Overlapping findings are cut into pieces at every boundary; a piece is marked with the
  // worst severity among the findings that cover it, and its tooltip lists all of them.
  function renderText(text, findings) {
    const units = codePointUnits(text);
    const at = (offset) => units[Math.min(offset, units.length - 1)];
    const spans = findings.map((f, i) => ({ i, start: at(f.start), end: at(f.end) }));
    const cuts = new Set([0, text.length]);
    for (const s of spans) { cuts.add(s.start); cuts.add(s.end); }
    const points = [...cuts].sort((a, b) => a - b);
    const fragment = document.createDocumentFragment();
    const started = new Set();

    // The first piece of each finding is its anchor (for "Show in text") and, after it, its numbered badge.
    const anchor = (node, covering) => {
      fragment.append(node);
      for (const i of covering) {
        if (!started.has(i)) {
          started.add(i);
          node.dataset.first = `${node.dataset.first || ""} ${i}`.trim();
          fragment.append(badge(findings[i], i + 1));
        }
      }
    };

    for (let k = 0; k < points.length; k++) {
      const a = points[k];
      const inserts = spans.filter((s) => s.start === a && s.end === a).map((s) => s.i);
      if (inserts.length) {
        const mark = flagElement("", inserts, findings);
        anchor(mark, inserts);
      }
      if (k + 1 === points.length) break;
      const b = points[k + 1];
      const piece = text.slice(a, b);
      const covering = spans.filter((s) => s.start < b && s.end > a).map((s) => s.i);
      if (!covering.length) {
        fragment.append(document.createTextNode(piece));
        continue;
      }
      const mark = flagElement(piece, covering, findings);
      anchor(mark, covering);
    }
    rendered.replaceChildren(fragment);
  }

  // Findings of one rule on the same words with the same message and fix are one entry with
  // several places ("XI" twenty times is one entry), as in the HTML report (formats/html_report.py).
  let groupFirst = [];
  function groupFindings(findings) {
    const firstOf = new Map();
    groupFirst = findings.map((f, i) => {
      const key = [f.code, f.severity, (f.text || "").split(/\s+/).join(" "), f.message, f.suggestion].join("\u0000");
      if (!firstOf.has(key)) firstOf.set(key, i);
      return firstOf.get(key);
    });
  }

  function jumpTo(i) {
    const mark = rendered.querySelector(`mark.flag[data-first~="${i}"]`);
    if (!mark) return;
    mark.scrollIntoView({ block: "center" });
    mark.focus();
  }

  function renderList(findings) {
    const firsts = findings.map((_, i) => i).filter((i) => groupFirst[i] === i);
    const items = firsts.map((i) => {
      const finding = findings[i];
      const places = findings.map((_, j) => j).filter((j) => groupFirst[j] === i);
      const sev = SEVERITIES[finding.severity] || SEVERITIES.info;
      const item = element("li", `finding sev-${finding.severity}`);
      item.id = `finding-${i}`;
      const head = element("p", "finding-head");
      head.append(
        element("span", `chip sev-${finding.severity}`, `${sev.icon} ${sev.word}`),
        " ",
        element("code", "code", finding.code),
        " ",
        element("span", "slug", finding.slug),
        " ",
        element("span", "where", places.length === 1 ? `line ${finding.line}, column ${finding.column}`
          : `${places.length} places`),
      );
      const quote = element("p", "quote");
      quote.append("Flagged: ", element("q", null, finding.text || "(a missing character)"));
      item.append(head, quote, element("p", "message", finding.message));
      const suggestion = suggestionText(finding);
      if (suggestion !== null) {
        const line = element("p", "suggestion", "Suggestion: ");
        line.append(element("strong", null, suggestion));
        item.append(line);
      }
      if (places.length === 1) {
        const jump = element("button", "jump", "Show in text");
        jump.type = "button";
        jump.addEventListener("click", () => jumpTo(i));
        item.append(jump);
        return item;
      }
      const where = element("p", "places", "Show in text: ");
      places.forEach((j, k) => {
        const jump = element("button", "jump", `${findings[j].line}:${findings[j].column}`);
        jump.type = "button";
        jump.setAttribute("aria-label", `line ${findings[j].line}, column ${findings[j].column}`);
        jump.addEventListener("click", () => jumpTo(j));
        where.append(k ? " " : "", jump);
      });
      item.append(where);
      return item;
    });
    if (!items.length) items.push(element("li", "none", "No findings."));
    findingsList.replaceChildren(...items);
  }

  // -- the tooltip: one element, filled from the findings of the mark under the pointer or focus.

  function showTip(mark) {
    const indices = mark.dataset.findings.split(" ").map(Number);
    const entries = indices.map((i) => {
      const finding = findingsShown[i];
      const sev = SEVERITIES[finding.severity] || SEVERITIES.info;
      const entry = element("div", "tip-entry");
      entry.append(
        element("p", "tip-head", `${sev.icon} ${sev.word} · ${finding.code} ${finding.slug}`),
        element("p", "tip-message", finding.message),
      );
      const suggestion = suggestionText(finding);
      if (suggestion !== null) entry.append(element("p", "tip-suggestion", `Suggestion: ${suggestion}`));
      return entry;
    });
    tip.replaceChildren(...entries);
    tip.hidden = false;
    const box = mark.getBoundingClientRect();
    const width = Math.min(420, document.documentElement.clientWidth - 16);
    tip.style.maxWidth = `${width}px`;
    const left = Math.max(8, Math.min(box.left + window.scrollX, window.scrollX + document.documentElement.clientWidth - width - 8));
    tip.style.left = `${left}px`;
    tip.style.top = `${box.bottom + window.scrollY + 6}px`;
  }

  function hideTip() {
    tip.hidden = true;
  }

  rendered.addEventListener("mouseover", (event) => {
    const mark = event.target.closest("mark.flag");
    if (mark) showTip(mark);
  });
  rendered.addEventListener("mouseout", (event) => {
    const mark = event.target.closest("mark.flag");
    if (mark && !mark.contains(event.relatedTarget) && document.activeElement !== mark) hideTip();
  });
  rendered.addEventListener("focusin", (event) => {
    const mark = event.target.closest("mark.flag");
    if (mark) showTip(mark);
  });
  rendered.addEventListener("focusout", hideTip);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") hideTip();
  });

  // -- inputs
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    check();
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  textarea.addEventListener("input", () => {
    if (!results.hidden) say("The text has changed since the last check: press Check again.");
  });
  fileInput.addEventListener("change", async () => {
    const file = fileInput.files[0];
    if (!file) return;
    if (maxBody !== null && file.size > maxBody) {
      say(`${file.name} is too large for the server (${file.size} bytes; the limit is ${maxBody}).`, true);
      return;
    }
    try {
      textarea.value = await file.text();
      source = file.name;
      say(`Loaded ${file.name}. Press Check.`);
      textarea.focus();
    } catch (error) {
      say(`Cannot read ${file.name}: ${error.message}`, true);
    }
  });
  downloadButton.addEventListener("click", async () => {
    if (!lastRequest) return;
    try {
      const blob = await (await post(lastRequest, "html")).blob();
      const link = element("a");
      link.href = URL.createObjectURL(blob);
      link.download = `${(source === "-" ? "article" : source).replace(/\.[^.]*$/, "")}-mtcheck.html`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    } catch (error) {
      say(`Download failed: ${error.message}`, true);
    }
  });

  async function health() {
    const line = $("health");
    try {
      const info = await (await fetch("/healthz")).json();
      maxBody = info.max_body_bytes;
      lmBox.disabled = !info.model_loaded;
      lmBox.checked = info.model_loaded && info.lm_default;
      if (!info.model_loaded) $("lm-help").textContent = "Not available: the server runs without the language model.";
      line.textContent = `Server ${info.version}; language model ${info.model_loaded ? "loaded" : "off"}.`;
    } catch (_) {
      line.textContent = "The server is not answering.";
    }
  }

  health();
})();
