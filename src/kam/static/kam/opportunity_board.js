// The opportunity board: drag a card onto another stage's column to ask the server to move it there.
// The server applies the gate; a refusal comes back as a fragment shown in #board-message, a move
// reloads the board (HX-Redirect). Cards the user may not move are not draggable.
(() => {
  const board = document.getElementById("opportunity-board");
  if (!board) return;
  let dragged = null;

  board.addEventListener("dragstart", (event) => {
    const card = event.target.closest(".board-card.movable");
    if (!card) return;
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.id);
  });
  board.addEventListener("dragend", () => {
    dragged = null;
  });

  for (const column of board.querySelectorAll(".board-column")) {
    column.addEventListener("dragover", (event) => {
      if (!dragged) return;
      event.preventDefault();
      column.classList.add("drop-target");
    });
    column.addEventListener("dragleave", () => column.classList.remove("drop-target"));
    column.addEventListener("drop", (event) => {
      event.preventDefault();
      column.classList.remove("drop-target");
      const card = dragged;
      dragged = null;
      if (!card || card.dataset.stage === column.dataset.stage) return;
      htmx.ajax("POST", card.dataset.advanceUrl, {
        target: "#board-message",
        swap: "innerHTML",
        values: { stage: column.dataset.stage, version: card.dataset.version, from: "board" },
      });
    });
  }
})();
