// ImageTagger's view: keys are handled here, against images already in the
// browser, so the next image shows in the same frame. Every write it sends
// names the image that was on screen when the key went down; the kernel applies
// them in order, once each, and says "saved". Until then a tag is shown as
// pending and kept in localStorage, so a kernel restart loses none of them.
// The writes are the tagger's, not a view's: every view of one tagger shows the
// same pending tags, undoes the same last write, and a write is sent again once.
// The view alone decides where it is: the kernel moves it only when asked to
// (a jump from Python or the map, or the answer to "first unlabeled"). A model's
// class for the image, where there is one, is shown beside it: one key takes it as
// the label, another says it is wrong.

const RESEND_MS = 3000;
const NOTE_MS = 2500;

function h(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

// -- the tagger's writes, shared by its views ----------------------------------------------
const taggers = new Map(); // widget_key -> the writes of that tagger's model

function initialize({ model }) {
  const writes = {
    pending: new Map(), // req -> write not yet saved by the kernel
    keyTimes: new Map(), // req -> when its key went down, and the timings it goes to
    written: [], // images written to, newest last: what undo takes back
    undone: [], // images undone, newest last: what redo puts back
    reqCounter: Date.now(),
    lastError: "",
    views: new Set(), // each view's answer to a write's fate: (content, message) => ...
    memoryKey: `geolabel:pending:${model.get("store_key")}:${model.get("task")}:${model.get("labeler")}`,
  };
  writes.send = (message) => {
    try {
      model.send(message);
    } catch (err) {
      writes.lastError = "the kernel is not connected; tags are kept and sent when it is back";
    }
  };
  writes.remember = () => {
    try {
      if (writes.pending.size) {
        localStorage.setItem(writes.memoryKey, JSON.stringify([...writes.pending.values()]));
      } else {
        localStorage.removeItem(writes.memoryKey);
      }
    } catch (_) {
      // storage may be disabled; pending tags are then kept only in this page
    }
  };
  const key = model.get("widget_key");
  taggers.set(key, writes);
  model.on("msg:custom", (content) => {
    if (!["saved", "unsaved", "failed"].includes(content.type)) return;
    const message = writes.pending.get(content.req);
    if (content.type === "unsaved") {
      // the store's server is away: the tag stays pending and is sent again
      writes.lastError = `${content.error}. Kept here and sent again every ${RESEND_MS / 1000} s`;
    } else {
      writes.pending.delete(content.req);
      const timed = writes.keyTimes.get(content.req);
      if (timed) timed.timings.saved.push(performance.now() - timed.start);
      writes.keyTimes.delete(content.req);
      writes.remember();
      writes.lastError = content.type === "failed" ? content.error : "";
    }
    for (const view of writes.views) view(content, message);
  });
  // tags a restarted kernel never saved are sent again, once, by the new tagger
  for (const message of recall(writes.memoryKey)) {
    message.sentAt = Date.now();
    writes.pending.set(message.req, message);
    writes.send(message);
  }
  const resend = setInterval(() => {
    const now = Date.now();
    const stale = [...writes.pending.values()].filter((m) => now - (m.sentAt || 0) > RESEND_MS);
    if (!stale.length) return;
    writes.lastError = writes.lastError || "the kernel has not confirmed some tags; sending them again";
    for (const message of stale) {
      message.sentAt = now;
      writes.send(message);
    }
    for (const view of writes.views) view({ type: "resent" });
  }, RESEND_MS);
  return () => {
    clearInterval(resend);
    taggers.delete(key);
  };
}

function recall(memoryKey) {
  try {
    return JSON.parse(localStorage.getItem(memoryKey) || "[]");
  } catch (_) {
    return [];
  }
}

// -- a view ----------------------------------------------------------------------------
function render({ model, el }) {
  const writes = taggers.get(model.get("widget_key"));
  const { pending, written, undone } = writes;
  const items = new Map(); // position -> {image_id, name, info, label, labels, status, url, error}
  const viewId = Math.random().toString(36).slice(2); // which view sent a write
  let position = model.get("position");
  let moves = 0; // counts the person's moves, so a late answer never moves the view
  let lastWindow = null; // the newest window of images received
  let keyTime; // when the last key or button went down, for the timings below
  // key -> image shown and key -> saved, in ms, kept only when the benchmark asks
  const timings = model.get("timing") ? { shown: [], saved: [] } : null;
  let noteTimer = null;

  // -- layout ---------------------------------------------------------------------------
  el.classList.add("geolabel-tagger");
  el.tabIndex = 0;
  el.setAttribute("data-lm-suppress-shortcuts", "true"); // JupyterLab leaves our keys alone
  el.dataset.ignored = "0";
  if (timings) el.geolabelTimings = timings; // read by benchmarks/tagger.py
  const header = h("div", "gl-header");
  const title = h("span", "gl-title");
  const where = h("span", "gl-position");
  const progress = h("progress", "gl-progress");
  header.append(title, where, progress);
  const frame = h("div", "gl-frame");
  const img = h("img", "gl-image");
  img.alt = "";
  const placeholder = h("div", "gl-placeholder");
  frame.append(img, placeholder);
  const info = h("div", "gl-info");
  const label = h("div", "gl-label");
  const predicted = h("div", "gl-model");
  const modelNote = h("div", "gl-model-note");
  const buttons = h("div", "gl-buttons");
  const review = h("div", "gl-review");
  const comment = h("input", "gl-comment");
  comment.placeholder = "comment for 'needs improvement'";
  const help = h("div", "gl-help", model.get("help"));
  const note = h("div", "gl-note");
  const state = h("div", "gl-state");
  el.append(header, frame, info, label, predicted, modelNote, buttons, review, help, note,
            state);

  const keys = model.get("key_map");
  const actionByKey = {};
  for (const [cls, key] of Object.entries(keys.classes)) actionByKey[key] = ["class", cls];
  for (const [action, key] of Object.entries(keys.actions)) actionByKey[key] = [action];

  function button(text, key, onClick) {
    const b = h("button", "gl-button", key ? `${text} (${key.replace("Arrow", "")})` : text);
    b.addEventListener("mousedown", (event) => {
      keyTime = event.timeStamp;
    });
    b.addEventListener("click", (event) => {
      event.preventDefault();
      onClick();
      el.focus();
    });
    return b;
  }
  for (const cls of model.get("classes")) {
    buttons.append(button(cls, keys.classes[cls], () => chooseClass(cls)));
  }
  const actions = keys.actions;
  buttons.append(
    button("← back", actions.previous, () => move(position - 1)),
    button("next →", actions.next, () => move(position + 1)),
    button("skip", actions.skip, skip),
    button("undo", actions.undo, undo),
    button("redo", actions.redo, redo),
    button("first unlabeled", actions.first_unlabeled, firstUnlabeled),
    button("review mode", actions.review, toggleReview),
    button("accept model", actions.accept_prediction, acceptPrediction),
    button("reject model", actions.reject_prediction, rejectPrediction),
  );
  review.append(
    button("accept", actions.accept, () => reviewVerdict("accept")),
    button("needs improvement", actions.needs_improvement, () => reviewVerdict("needs_improvement")),
    comment,
  );

  // -- showing the current image --------------------------------------------------------
  function shown() {
    // the item on screen: one whose image (or why it cannot be shown) is here
    const item = items.get(position);
    return item && (item.url || item.error) ? item : null;
  }

  function show() {
    const total = model.get("total");
    const item = shown();
    title.textContent = `${model.get("task")} — ${model.get("labeler")}`;
    where.textContent = position >= total ? `done: ${total} / ${total}` : `${position + 1} / ${total}`;
    progress.max = Math.max(total, 1);
    progress.value = model.get("labeled");
    progress.title = `${model.get("labeled")} of ${total} labeled by ${model.get("labeler")}`;
    review.style.display = model.get("review_mode") ? "" : "none";
    el.classList.toggle("gl-reviewing", model.get("review_mode"));
    if (position >= total || !item) {
      img.style.display = "none";
      img.removeAttribute("src");
      placeholder.style.display = "";
      placeholder.textContent = position >= total ? "All images in this queue are done." : "loading…";
      el.classList.toggle("gl-loading", position < total);
      info.textContent = "";
      label.textContent = "";
      predicted.textContent = "";
    } else {
      el.classList.remove("gl-loading");
      if (item.url) {
        img.src = item.url;
        img.style.display = "";
        placeholder.style.display = "none";
      } else {
        img.style.display = "none";
        placeholder.style.display = "";
        placeholder.textContent = `Cannot show ${item.name}: ${item.error} (skip with ${actions.skip})`;
      }
      info.textContent = `${item.name} · ${item.info}`;
      label.textContent = describeLabel(item);
      label.classList.toggle("gl-pending", Boolean(item.pendingLabel));
      predicted.textContent = describePrediction(item.prediction);
      predicted.classList.toggle("gl-rejected", Boolean(item.prediction?.rejected));
    }
    modelNote.textContent = model.get("model_note") ? `⚠ ${model.get("model_note")}` : "";
    const waiting = pending.size;
    const error = writes.lastError;
    state.textContent = error
      ? `⚠ ${error}${waiting ? ` — ${waiting} tag(s) waiting to be saved` : ""}`
      : waiting
        ? `${waiting} tag(s) pending…`
        : "all tags saved";
    state.classList.toggle("gl-error", Boolean(error));
    el.dataset.position = String(position);
    el.dataset.imageId = item ? item.image_id : "";
    el.dataset.pending = String(waiting);
  }

  function describeLabel(item) {
    const mine = item.pendingLabel || item.label;
    let text = mine && mine.length ? `your label: ${mine.join(", ")}` : "unlabeled";
    if (item.pendingLabel) text += " (saving…)";
    if (item.status && !["unlabeled", "labeled"].includes(item.status)) text += ` · ${item.status.replace("_", " ")}`;
    if (model.get("review_mode") && item.labels) {
      const others = Object.entries(item.labels).map(([who, v]) => `${who}: ${v.join(", ")}`);
      if (others.length) text += ` · everyone: ${others.join("; ")}`;
    }
    return text;
  }

  function describePrediction(p) {
    if (!p) return "";
    const score = p.score === null ? "" : ` ${Math.round(100 * p.score)}%`;
    const what = `model ${p.model}: ${p.value}${score}`;
    if (p.rejected) return `${what} · you rejected it`;
    return `${what} · ${actions.accept_prediction} accept · ${actions.reject_prediction} reject`;
  }

  function say(text) {
    // a short note on a key that did nothing, and why
    note.textContent = text;
    clearTimeout(noteTimer);
    noteTimer = setTimeout(() => (note.textContent = ""), NOTE_MS);
  }

  function ignored(why) {
    el.dataset.ignored = String(Number(el.dataset.ignored) + 1);
    say(why);
  }

  function shownFrame() {
    // the frame that first shows the new image, for the latency measurements
    const start = keyTime;
    keyTime = undefined;
    if (!timings || start === undefined) return;
    requestAnimationFrame(() => timings.shown.push(performance.now() - start));
  }

  // -- writes: each names the image it is for and the position the person saw -----------
  function send(message) {
    message.req = ++writes.reqCounter;
    message.position = position;
    message.moves = moves;
    message.view = viewId;
    message.sentAt = Date.now();
    if (timings && keyTime !== undefined) writes.keyTimes.set(message.req, { start: keyTime, timings });
    pending.set(message.req, message);
    writes.remember();
    writes.send(message);
    for (const view of writes.views) view({ type: "sent" }); // every view: the pending count
    return message;
  }

  function wrote(imageId) {
    written.push(imageId);
    undone.length = 0; // a new write ends what redo could put back, as in the store
  }

  function chooseClass(cls, fromModel) {
    // fromModel: the prediction whose class this is, when its key took it
    const item = shown();
    if (!item) return ignored("The image is still loading: that key was not applied.");
    let value;
    if (model.get("multilabel")) {
      const now = new Set(item.pendingLabel || item.label);
      now.has(cls) ? now.delete(cls) : now.add(cls);
      value = [...now].sort();
    } else {
      value = cls;
    }
    item.pendingLabel = Array.isArray(value) ? value : [value];
    wrote(item.image_id);
    const message = { type: "tag", image_id: item.image_id, value };
    if (fromModel) Object.assign(message, { prediction_id: fromModel.id, model: fromModel.model });
    send(message);
    if (model.get("multilabel")) show();
    else move(position + 1);
  }

  function acceptPrediction() {
    const item = shown();
    if (!item) return ignored("The image is still loading: that key was not applied.");
    if (!item.prediction) return ignored("No model has a class for this image.");
    const already = (item.pendingLabel || item.label || []).includes(item.prediction.value);
    if (model.get("multilabel") && already) return ignored("The model's class is on it already.");
    chooseClass(item.prediction.value, item.prediction);
  }

  function rejectPrediction() {
    const item = shown();
    if (!item) return ignored("The image is still loading: that key was not applied.");
    if (!item.prediction) return ignored("No model has a class for this image.");
    if (item.prediction.rejected) return ignored("You rejected this prediction already.");
    item.prediction.rejected = true; // shown at once; the kernel confirms it
    wrote(item.image_id);
    send({ type: "reject", image_id: item.image_id, prediction_id: item.prediction.id });
  }

  function skip() {
    const item = shown();
    if (!item) return ignored("The image is still loading: that key was not applied.");
    wrote(item.image_id);
    send({ type: "skip", image_id: item.image_id });
    move(position + 1);
  }

  function reviewVerdict(verdict) {
    const item = shown();
    if (!model.get("review_mode")) return;
    if (!item) return ignored("The image is still loading: that key was not applied.");
    wrote(item.image_id);
    send({ type: "review", image_id: item.image_id, verdict, comment: comment.value });
    comment.value = "";
    move(position + 1);
  }

  function revert(type, from, to) {
    // undo: the tagger's last write (redo: its last undo); with none, the image shown
    const imageId = from.pop() ?? shown()?.image_id;
    if (!imageId) return ignored(`The image is still loading: nothing to ${type} here yet.`);
    to.push(imageId);
    send({ type, image_id: imageId });
    goToImage(imageId);
  }
  function undo() {
    revert("undo", written, undone);
  }

  function redo() {
    revert("redo", undone, written);
  }

  function goToImage(imageId) {
    // at once if the image is held here; else when the kernel says where it is
    for (const [p, item] of items) if (item.image_id === imageId) return move(p);
  }

  function toggleReview() {
    model.send({ type: "review_mode", on: !model.get("review_mode") });
  }

  function firstUnlabeled() {
    model.send({ type: "first_unlabeled", moves }); // the store knows, for the whole queue
  }

  function move(target) {
    moves += 1;
    position = Math.max(0, Math.min(target, model.get("total")));
    show();
    if (shown()?.url) shownFrame();
    model.send({ type: "need", position, image_id: shown()?.image_id ?? null,
                 have: haveIds(), seen: lastWindow });
  }

  function haveIds() {
    return [...items.values()].filter((i) => i.url || i.error).map((i) => i.image_id);
  }

  function stillPending(imageId) {
    return [...pending.values()].some((m) => m.image_id === imageId && m.type === "tag");
  }

  // -- what the kernel says --------------------------------------------------------------
  model.on("msg:custom", (content, buffers) => {
    if (content.type === "window") {
      lastWindow = Math.max(lastWindow ?? -1, content.window);
      const byId = new Map([...items.values()].map((i) => [i.image_id, i]));
      const wasWaiting = !shown();
      for (const item of content.items) {
        const known = byId.get(item.image_id);
        if (item.buffer !== undefined) {
          if (known?.url) {
            item.url = known.url; // sent twice (two views asked): keep the one decoded
          } else {
            const blob = new Blob([buffers[item.buffer]], { type: "image/jpeg" });
            item.url = URL.createObjectURL(blob);
            const preload = new Image();
            preload.src = item.url;
            preload.decode().catch(() => {}); // decoded before it is needed
          }
        } else if (known) {
          item.url = known.url;
          item.error = item.error || known.error;
        }
        if (known?.pendingLabel && stillPending(item.image_id)) item.pendingLabel = known.pendingLabel;
        items.set(item.position, item);
      }
      forgetFarAway();
      show();
      if (wasWaiting && shown()?.url) shownFrame();
    } else if (content.type === "goto") {
      // from Python or the map, or the answer to a question asked before any later move
      if (content.moves === undefined || content.moves === moves) move(content.position);
    } else if (content.type === "queue") {
      // a new queue (a selection on the map): positions now name other images
      for (const item of items.values()) if (item.url) URL.revokeObjectURL(item.url);
      items.clear();
      position = content.position;
      moves += 1;
      show();
      model.send({ type: "need", position, image_id: null, have: [], seen: lastWindow });
    }
  });

  // what became of a write (any view's): saved, refused, still waiting; sent or resent
  function heard(content, message) {
    if (content.type === "saved") {
      for (const saved of content.items) {
        for (const item of items.values()) {
          if (item.image_id !== saved.image_id) continue;
          Object.assign(item, { label: saved.label, labels: saved.labels, status: saved.status,
                                prediction: saved.prediction });
          if (!stillPending(item.image_id)) delete item.pendingLabel;
        }
      }
      // this view's undo or redo of an image not held here: go there, unless it moved on
      if (message && message.view === viewId && ["undo", "redo"].includes(message.type)
          && message.moves === moves && !shown() && content.positions?.length) {
        move(content.positions[0]);
      }
    } else if (content.type === "failed") {
      for (const item of items.values()) {
        if (message && item.image_id === message.image_id && !stillPending(item.image_id)) delete item.pendingLabel;
      }
    }
    show();
  }
  writes.views.add(heard);

  function forgetFarAway() {
    for (const [p, item] of items) {
      if (Math.abs(p - position) > 40) {
        if (item.url) URL.revokeObjectURL(item.url);
        items.delete(p);
      }
    }
  }

  // -- keyboard and focus -------------------------------------------------------------------
  el.addEventListener("keydown", (event) => {
    if (event.target === comment) {
      if (event.key !== "Enter") return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const action = actionByKey[event.key];
    if (!action) return;
    event.preventDefault();
    event.stopPropagation();
    if (event.repeat) {
      // a held key acts once: each image gets its own press, seen
      return ignored("Holding a key acts once: press it again for the next image.");
    }
    keyTime = event.timeStamp;
    const [name, arg] = action;
    if (name === "class") chooseClass(arg);
    else if (name === "next") move(position + 1);
    else if (name === "previous") move(position - 1);
    else if (name === "skip") skip();
    else if (name === "undo") undo();
    else if (name === "redo") redo();
    else if (name === "first_unlabeled") firstUnlabeled();
    else if (name === "review") toggleReview();
    else if (name === "accept") reviewVerdict("accept");
    else if (name === "needs_improvement") reviewVerdict("needs_improvement");
    else if (name === "accept_prediction") acceptPrediction();
    else if (name === "reject_prediction") rejectPrediction();
  });
  frame.addEventListener("mousedown", () => el.focus());
  model.on("change:labeled", show);
  model.on("change:total", show); // a team's queue grows as images are claimed
  model.on("change:review_mode", show);
  model.on("change:model_note", show);

  show();
  model.send({ type: "need", position, image_id: null, have: [], seen: null });
  setTimeout(() => el.focus(), 0);

  return () => {
    writes.views.delete(heard);
    clearTimeout(noteTimer);
    for (const item of items.values()) if (item.url) URL.revokeObjectURL(item.url);
  };
}

export default { initialize, render };
