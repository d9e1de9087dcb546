// A ModelBench rating packet: one rater's items, shown one at a time, rated with the keyboard,
// kept in this browser's local storage, and saved as a signed ratings file. No network: the page
// has a Content-Security-Policy that allows nothing but this script and its stylesheet.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("packet-data").textContent);
  const storageKey = "modelbench-packet-" + data.packet;
  const pairwise = data.kind === "pairwise";
  const criteria = data.criteria || [];
  let state = load();
  let index = Math.min(state.index || 0, data.items.length - 1);
  let cell = 0;

  function load() {
    try {
      const saved = JSON.parse(window.localStorage.getItem(storageKey) || "null");
      if (saved && saved.ratings) return saved;
    } catch (_) {
      /* storage unavailable or damaged: start afresh */
    }
    return { index: 0, ratings: {} };
  }

  function persist() {
    state.index = index;
    try {
      window.localStorage.setItem(storageKey, JSON.stringify(state));
    } catch (_) {
      status("This browser does not keep progress for local files: save the ratings file before closing.");
    }
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function status(text) {
    document.getElementById("status").textContent = text;
  }

  function rating(item) {
    const key = String(item.n);
    if (!state.ratings[key]) state.ratings[key] = pairwise ? { choice: null, reason: "" } : { scores: {}, reason: "" };
    return state.ratings[key];
  }

  function cells(item) {
    const list = [];
    for (const answer of item.answers) for (const criterion of criteria) list.push([answer.label, criterion.name]);
    return list;
  }

  function complete(item) {
    const saved = state.ratings[String(item.n)];
    if (!saved) return false;
    if (pairwise) return saved.choice !== null;
    return cells(item).every(([label, name]) => saved.scores[label] && saved.scores[label][name]);
  }

  function render() {
    const item = data.items[index];
    const done = data.items.filter(complete).length;
    document.getElementById("progress").textContent =
      "Item " + (index + 1) + " of " + data.items.length + " \u00b7 " + done + " rated";
    const main = document.getElementById("item");
    main.replaceChildren();
    const prompt = el("section", "prompt");
    prompt.append(el("h2", "", "Prompt"));
    if (item.prompt.system) prompt.append(el("div", "turn", "System: " + item.prompt.system));
    for (const message of item.prompt.messages) {
      prompt.append(el("div", "turn", (message.role === "user" ? "User: " : "Assistant: ") + message.content));
    }
    main.append(prompt);
    const answers = el("section", "answers");
    const saved = rating(item);
    item.answers.forEach((answer) => {
      const box = el("article", "answer");
      box.append(el("h2", "", "Answer " + answer.label));
      box.append(el("div", "text", answer.text === "" ? "(empty answer)" : answer.text));
      if (!pairwise) {
        const table = el("div", "scores");
        for (const criterion of criteria) {
          const row = el("div", "score-row");
          row.append(el("span", "criterion", criterion.name));
          for (let score = 1; score <= 5; score++) {
            const button = el("button", "score", String(score));
            button.type = "button";
            const current = saved.scores[answer.label] && saved.scores[answer.label][criterion.name];
            if (current === score) button.className = "score chosen";
            const position = cells(item).findIndex(([l, n]) => l === answer.label && n === criterion.name);
            if (position === cell) row.className = "score-row focused";
            button.addEventListener("click", () => {
              cell = position;
              score_cell(item, score);
            });
            row.append(button);
          }
          table.append(row);
        }
        box.append(table);
      }
      answers.append(box);
    });
    main.append(answers);
    if (pairwise) {
      const choices = el("section", "choices");
      for (const [choice, label] of [["A", "A is better (A)"], ["tie", "Tie (T)"], ["B", "B is better (B)"]]) {
        const button = el("button", saved.choice === choice ? "choice chosen" : "choice", label);
        button.type = "button";
        button.dataset.choice = choice;
        button.addEventListener("click", () => choose(choice));
        choices.append(button);
      }
      main.append(choices);
    } else if (criteria.some((criterion) => criterion.description)) {
      const legend = el("section", "legend");
      for (const criterion of criteria) legend.append(el("div", "", criterion.name + ": " + (criterion.description || "")));
      main.append(legend);
    }
    const reason = el("textarea", "reason");
    reason.id = "reason";
    reason.placeholder = "Reason (optional)";
    reason.value = saved.reason || "";
    reason.addEventListener("input", () => {
      rating(item).reason = reason.value;
      persist();
    });
    main.append(reason);
  }

  function stamp(saved) {
    saved.rated_at = new Date().toISOString();
  }

  function choose(choice) {
    if (!pairwise) return;
    const saved = rating(data.items[index]);
    saved.choice = choice;
    stamp(saved);
    persist();
    move(1, true);
  }

  function score_cell(item, score) {
    const list = cells(item);
    const [label, name] = list[cell];
    const saved = rating(item);
    if (!saved.scores[label]) saved.scores[label] = {};
    saved.scores[label][name] = score;
    stamp(saved);
    persist();
    if (cell + 1 < list.length) {
      cell += 1;
      render();
    } else {
      move(1, true);
    }
  }

  function move(step, afterRating) {
    const next = index + step;
    if (next >= 0 && next < data.items.length) {
      index = next;
      cell = 0;
    } else if (afterRating && next >= data.items.length) {
      status("Every item has a rating? Save the ratings file and send it back.");
    }
    persist();
    render();
  }

  function payload() {
    const ratings = [];
    for (const item of data.items) {
      const saved = state.ratings[String(item.n)];
      if (!saved) continue;
      const entry = { n: item.n };
      if (pairwise) {
        if (saved.choice === null) continue;
        entry.choice = saved.choice;
      } else {
        if (Object.keys(saved.scores).length === 0) continue;
        entry.scores = saved.scores;
      }
      if (saved.reason) entry.reason = saved.reason;
      if (saved.rated_at) entry.rated_at = saved.rated_at;
      ratings.push(entry);
    }
    return JSON.stringify({
      format: "modelbench-ratings/1",
      panel: data.panel,
      packet: data.packet,
      rater: data.rater,
      kind: data.kind,
      saved_at: new Date().toISOString(),
      ratings: ratings,
    });
  }

  function ratingsFile() {
    const body = payload();
    const signature = hmacSha256Hex(hexBytes(data.token), utf8(body));
    return JSON.stringify({ format: "modelbench-ratings/1", payload: body, signature: signature }, null, 1) + "\n";
  }

  function save() {
    const text = ratingsFile();
    const output = document.getElementById("ratings-text");
    output.value = text;
    output.hidden = false;
    try {
      const link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
      link.download = "ratings-" + data.rater.replace(/[^A-Za-z0-9_-]+/g, "_") + ".json";
      document.body.append(link);
      link.click();
      link.remove();
      status("Saved. Send the ratings file back (or copy the text below).");
    } catch (_) {
      status("Copy the text below into a file named ratings.json and send it back.");
    }
  }

  document.addEventListener("keydown", (event) => {
    if (event.target && event.target.id === "reason") {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key;
    if (key === "ArrowRight") move(1, false);
    else if (key === "ArrowLeft") move(-1, false);
    else if (pairwise && (key === "a" || key === "A")) choose("A");
    else if (pairwise && (key === "b" || key === "B")) choose("B");
    else if (pairwise && (key === "t" || key === "T")) choose("tie");
    else if (!pairwise && key >= "1" && key <= "5") score_cell(data.items[index], Number(key));
    else if (!pairwise && key === "ArrowDown") {
      cell = Math.min(cell + 1, cells(data.items[index]).length - 1);
      render();
    } else if (!pairwise && key === "ArrowUp") {
      cell = Math.max(cell - 1, 0);
      render();
    } else if (key === "r" || key === "R") {
      document.getElementById("reason").focus();
    } else return;
    event.preventDefault();
  });
  document.getElementById("save").addEventListener("click", save);
  document.getElementById("previous").addEventListener("click", () => move(-1, false));
  document.getElementById("next").addEventListener("click", () => move(1, false));
  document.getElementById("rater").textContent = data.rater;
  document.getElementById("help").textContent = pairwise
    ? "Keys: A or B for the better answer, T for a tie, R to write a reason, \u2190 \u2192 to move."
    : "Keys: 1\u20135 to score the highlighted line (it moves on), \u2191 \u2193 to pick a line, R for a reason, \u2190 \u2192 to move.";
  render();

  // SHA-256 and HMAC (FIPS 180-4, RFC 2104), in this page so signing works offline and on file://
  // pages, where browsers may withhold crypto.subtle.
  function utf8(text) {
    const bytes = [];
    for (const character of text) {
      const code = character.codePointAt(0);
      if (code < 0x80) bytes.push(code);
      else if (code < 0x800) bytes.push(0xc0 | (code >> 6), 0x80 | (code & 63));
      else if (code < 0x10000) bytes.push(0xe0 | (code >> 12), 0x80 | ((code >> 6) & 63), 0x80 | (code & 63));
      else bytes.push(0xf0 | (code >> 18), 0x80 | ((code >> 12) & 63), 0x80 | ((code >> 6) & 63), 0x80 | (code & 63));
    }
    return Uint8Array.from(bytes);
  }

  function hexBytes(hex) {
    const bytes = new Uint8Array(hex.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.substr(i * 2, 2), 16);
    return bytes;
  }

  function sha256(bytes) {
    const K = [
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
      0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
      0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
      0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
      0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
      0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
      0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
      0xc67178f2,
    ];
    const H = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    const length = bytes.length;
    const padded = new Uint8Array(((length + 9 + 63) >> 6) << 6);
    padded.set(bytes);
    padded[length] = 0x80;
    const view = new DataView(padded.buffer);
    view.setUint32(padded.length - 8, Math.floor(length / 0x20000000));
    view.setUint32(padded.length - 4, (length << 3) >>> 0);
    const w = new Uint32Array(64);
    for (let offset = 0; offset < padded.length; offset += 64) {
      for (let t = 0; t < 16; t++) w[t] = view.getUint32(offset + t * 4);
      for (let t = 16; t < 64; t++) {
        const a = w[t - 15];
        const b = w[t - 2];
        const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
        const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
        w[t] = (w[t - 16] + s0 + w[t - 7] + s1) >>> 0;
      }
      let [a, b, c, d, e, f, g, h] = H;
      for (let t = 0; t < 64; t++) {
        const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        const ch = (e & f) ^ (~e & g);
        const t1 = (h + S1 + ch + K[t] + w[t]) >>> 0;
        const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        const maj = (a & b) ^ (a & c) ^ (b & c);
        const t2 = (S0 + maj) >>> 0;
        h = g;
        g = f;
        f = e;
        e = (d + t1) >>> 0;
        d = c;
        c = b;
        b = a;
        a = (t1 + t2) >>> 0;
      }
      H[0] = (H[0] + a) >>> 0;
      H[1] = (H[1] + b) >>> 0;
      H[2] = (H[2] + c) >>> 0;
      H[3] = (H[3] + d) >>> 0;
      H[4] = (H[4] + e) >>> 0;
      H[5] = (H[5] + f) >>> 0;
      H[6] = (H[6] + g) >>> 0;
      H[7] = (H[7] + h) >>> 0;
    }
    const out = new Uint8Array(32);
    const outView = new DataView(out.buffer);
    H.forEach((word, i) => outView.setUint32(i * 4, word));
    return out;
  }

  function hmacSha256Hex(key, message) {
    let block = key.length > 64 ? sha256(key) : key;
    const padded = new Uint8Array(64);
    padded.set(block);
    const inner = new Uint8Array(64 + message.length);
    const outer = new Uint8Array(64 + 32);
    for (let i = 0; i < 64; i++) {
      inner[i] = padded[i] ^ 0x36;
      outer[i] = padded[i] ^ 0x5c;
    }
    inner.set(message, 64);
    outer.set(sha256(inner), 64);
    return Array.from(sha256(outer), (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  window.modelbenchPacket = { ratingsFile: ratingsFile, utf8: utf8, sha256: sha256, hmacSha256Hex: hmacSha256Hex };
})();
