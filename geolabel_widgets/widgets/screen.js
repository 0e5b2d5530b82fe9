// Answers "is image n on screen yet?" once the canvas has drawn what the kernel sent
// before the question and the browser has painted it. Messages from the browser reach
// the kernel in order, so whatever the mouse and keys sent before this answer was
// made before image n could be seen.
async function render({ model, el }) {
  el.style.display = "none";
  const ref = model.get("drawing");
  // ipycanvas draws each command in turn on this promise chain (awaiting image
  // decodes); the commands that came before the question are on it already
  const drawing = ref ? await model.widget_manager.get_model(ref.slice("IPY_MODEL_".length))
    .catch(() => null) : null; // without it, answer after the paint alone
  model.on("msg:custom", (content) => {
    if (content.type !== "shown?") return;
    Promise.resolve(drawing?.currentProcessing).finally(() =>
      requestAnimationFrame(() => requestAnimationFrame(() =>
        model.send({ type: "shown", n: content.n }))));
  });
  model.send({ type: "view" }); // a view is here: the kernel asks it about the image now
}

export default { render };
