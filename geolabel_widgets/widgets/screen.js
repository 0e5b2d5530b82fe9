// Answers "is image n on screen yet?" once the frames after the question are drawn.
// Messages from the browser reach the kernel in order, so whatever the mouse and
// keys sent before this answer was made before image n could be seen.
function render({ model, el }) {
  el.style.display = "none";
  model.on("msg:custom", (content) => {
    if (content.type !== "shown?") return;
    requestAnimationFrame(() => requestAnimationFrame(() =>
      model.send({ type: "shown", n: content.n })));
  });
  model.send({ type: "view" }); // a view is here: the kernel asks it about the image now
}

export default { render };
