// jsdom has no DragEvent; @lumino/dragdrop (through @lumino/widgets) subclasses it at import.
if (typeof (globalThis as any).DragEvent === 'undefined') {
  (globalThis as any).DragEvent = class DragEvent extends MouseEvent {};
}
