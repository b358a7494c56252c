// The HTML flame graph's style and script (FlameGraphHTML.swift), inline
// in the page.  Plain DOM, no library: each frame is an absolutely placed
// <div class="frame"> (root at the bottom), its title the tooltip.

enum FlameGraphScript {
    static let css = #"""
    body { font-family: Verdana, sans-serif; font-size: 12px; margin: 10px; background: #f8f8f0; }
    h1 { font-size: 17px; text-align: center; margin: 4px; }
    #subtitle { text-align: center; color: #555; margin: 2px; }
    #controls { margin: 8px 0; display: flex; gap: 14px; align-items: center; flex-wrap: wrap; }
    #matched { font-weight: bold; }
    #graph { position: relative; width: 100%; overflow: hidden; }
    .frame { position: absolute; height: 15px; line-height: 15px; overflow: hidden; white-space: nowrap;
             text-overflow: ellipsis; font-size: 11px; padding-left: 3px; box-sizing: border-box;
             border-radius: 2px; cursor: pointer; border-right: 1px solid #f8f8f0; }
    .frame.match { background: rgb(230, 0, 230) !important; color: #fff; }
    .frame.outside { opacity: 0.45; }
    .frame:hover { outline: 1px solid #000; z-index: 1; }
    #details { min-height: 1.2em; color: #333; }
    """#

    static let js = #"""
    "use strict";
    (function () {
      const data = JSON.parse(document.getElementById("profile-data").textContent);
      const graph = document.getElementById("graph");
      const pidMenu = document.getElementById("pid"), threadMenu = document.getElementById("thread");
      const split = document.getElementById("split"), search = document.getElementById("search");
      const matched = document.getElementById("matched"), details = document.getElementById("details");
      const rowHeight = 16, minPixels = 0.5;
      const state = { pid: "", thread: "", search: "", zoom: null };

      // The location's hash sets the first state: #search=..&thread=tid&pid=..&zoom=name&split=0
      for (const part of location.hash.replace(/^#/, "").split("&")) {
        const at = part.indexOf("=");
        if (at < 0) continue;
        const key = decodeURIComponent(part.slice(0, at)), value = decodeURIComponent(part.slice(at + 1));
        if (key === "search") state.search = value;
        if (key === "thread") state.thread = value;
        if (key === "pid") state.pid = value;
        if (key === "zoom") state.zoomName = value;
        if (key === "split") split.checked = value !== "0";
      }

      function option(menu, value, text) {
        const o = document.createElement("option");
        o.value = value;
        o.textContent = text;
        menu.appendChild(o);
      }
      const pids = [...new Set(data.threads.map(t => t.pid))].sort((a, b) => a - b);
      option(pidMenu, "", "all (" + pids.length + ")");
      for (const pid of pids) option(pidMenu, String(pid), String(pid));
      pidMenu.parentElement.style.display = pids.length > 1 ? "" : "none";
      function fillThreads() {
        threadMenu.textContent = "";
        option(threadMenu, "", "all threads");
        const seen = new Set();
        data.threads.forEach(t => {
          if ((state.pid === "" || String(t.pid) === state.pid) && !seen.has(t.tid)) {
            seen.add(t.tid);
            option(threadMenu, String(t.tid), t.name);
          }
        });
        threadMenu.value = state.thread;
        if (threadMenu.value !== state.thread) state.thread = "";
      }
      fillThreads();
      pidMenu.value = state.pid;
      search.value = state.search;

      // The tree of the selected stacks: {name, kind, color, n, w, children: Map}.
      function node(name, kind, color) { return { name, kind, color, n: 0, w: 0, children: new Map(), parent: null }; }
      function buildTree() {
        const root = node("all", 0, "rgb(230,230,230)");
        for (const s of data.stacks) {
          const t = data.threads[s.t];
          if (state.pid !== "" && String(t.pid) !== state.pid) continue;
          if (state.thread !== "" && String(t.tid) !== state.thread) continue;
          let at = root;
          root.n += s.n; root.w += s.w;
          const path = split.checked ? [[t.name, 4, t.color]] : [];
          for (const f of s.f) path.push([data.names[f], data.kinds[f], data.colors[f]]);
          for (const [name, kind, color] of path) {
            const key = kind + "\u0000" + name;
            let child = at.children.get(key);
            if (!child) { child = node(name, kind, color); child.parent = at; at.children.set(key, child); }
            child.n += s.n; child.w += s.w;
            at = child;
          }
        }
        return root;
      }
      const weight = root => root.w > 0 ? (x => x.w) : (x => x.n);

      function pathOf(x) { const p = []; for (; x; x = x.parent) p.unshift(x); return p; }
      function findZoom(root, name) {
        const queue = [root];
        while (queue.length) {
          const x = queue.shift();
          if (x.name === name && x !== root) return x;
          for (const c of x.children.values()) queue.push(c);
        }
        return null;
      }
      function sorted(x) {
        return [...x.children.values()].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : a.kind - b.kind);
      }
      function percent(part, whole) { return whole > 0 ? (100 * part / whole).toFixed(2) : "0.00"; }

      function draw() {
        const root = buildTree();
        if (state.zoomName !== undefined) { state.zoom = findZoom(root, state.zoomName); delete state.zoomName; }
        else if (state.zoom) { state.zoom = findZoom(root, state.zoom.name); }
        const w = weight(root);
        const top = state.zoom || root;
        const total = w(root), scale = w(top) > 0 ? graph.clientWidth / w(top) : 0;
        let regex = null;
        if (state.search !== "") { try { regex = new RegExp(state.search); } catch (e) { regex = null; } }
        const boxes = [];
        // The zoomed frame's ancestors, full width, dimmed.
        const ancestors = state.zoom ? pathOf(state.zoom).slice(0, -1) : [];
        ancestors.forEach((x, depth) => boxes.push([x, depth, 0, graph.clientWidth, true]));
        const stack = [[top, ancestors.length, 0]];
        let matchedWeight = 0;
        while (stack.length) {
          const [x, depth, left] = stack.pop();
          const width = w(x) * scale;
          if (width < minPixels) continue;
          boxes.push([x, depth, left, width, false]);
          let offset = left;
          for (const c of sorted(x)) { stack.push([c, depth + 1, offset]); offset += w(c) * scale; }
        }
        // The matched share counts every frame, drawn or too narrow, each
        // time once: a match below a match is already covered.
        if (regex) {
          const pending = [top];
          while (pending.length) {
            const x = pending.pop();
            if (regex.test(x.name)) { matchedWeight += w(x); continue; }
            for (const c of x.children.values()) pending.push(c);
          }
        }
        const depth = boxes.reduce((m, b) => Math.max(m, b[1]), 0) + 1;
        graph.style.height = (depth * rowHeight) + "px";
        const fragment = document.createDocumentFragment();
        for (const [x, d, left, width, outside] of boxes) {
          const div = document.createElement("div");
          div.className = "frame" + (outside ? " outside" : "") + (regex && regex.test(x.name) ? " match" : "");
          div.style.left = left + "px";
          div.style.width = width + "px";
          div.style.bottom = (d * rowHeight) + "px";
          div.style.background = x.color;
          div.textContent = width > 20 ? x.name : "";
          div.title = x.name + " (" + x.n + " sample" + (x.n === 1 ? "" : "s") + ", " + percent(w(x), total) + "%)";
          div.dataset.name = x.name;
          div.addEventListener("click", () => { state.zoom = x === root ? null : x; draw(); });
          div.addEventListener("mouseenter", () => { details.textContent = div.title; });
          fragment.appendChild(div);
        }
        graph.textContent = "";
        graph.appendChild(fragment);
        if (regex) {
          matched.textContent = "Matched: " + percent(matchedWeight, w(top)) + "%";
        } else {
          matched.textContent = state.search !== "" ? "Bad regular expression" : "";
        }
        graph.dataset.frames = String(boxes.length);
        graph.dataset.total = String(root.n);
      }

      pidMenu.addEventListener("change", () => { state.pid = pidMenu.value; state.zoom = null; fillThreads(); draw(); });
      threadMenu.addEventListener("change", () => { state.thread = threadMenu.value; state.zoom = null; draw(); });
      split.addEventListener("change", () => { state.zoom = null; draw(); });
      search.addEventListener("input", () => { state.search = search.value; draw(); });
      document.getElementById("reset").addEventListener("click", () => { state.zoom = null; draw(); });
      document.addEventListener("keydown", e => { if (e.key === "Escape") { state.zoom = null; draw(); } });
      window.addEventListener("resize", draw);
      draw();
    })();
    """#
}
