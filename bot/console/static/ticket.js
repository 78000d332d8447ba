// The 工单 page: choosing a reply template copies it into the reply's text box, to edit before sending.
// Without this script the form still works: an empty text box sends the chosen template.
document.addEventListener("change", (event) => {
  const select = event.target;
  if (!(select instanceof HTMLSelectElement) || !select.dataset.fills) return;
  const box = document.getElementById(select.dataset.fills);
  if (box instanceof HTMLTextAreaElement) box.value = select.value;
});
