// Where a pane sits in the grid, as far as drawing needs it: the grid's columns and a pane's row.
// The store draws one row per frame from these; `PaneGrid` lays the panes out with the same
// columns, so a row drawn is a row on screen.
//
// Left out: the grid's markup and styles (components/PaneGrid.svelte).

/** Up to this many panes, every changed pane is drawn in every frame. */
const ALL_IN_ONE_FRAME = 4;

/** The columns `PaneGrid` prefers for `count` panes: about sqrt(count), so the grid fills the
 * window. */
export function gridColumns(count: number): number {
  return Math.max(1, Math.ceil(Math.sqrt(count)));
}

/** The grid row that pane `index` of `count` sits in, as `PaneGrid` lays them out
 * (`gridColumns`), or 0 for every pane when there are few. Beyond `ALL_IN_ONE_FRAME` panes
 * a frame draws the changed panes of one row only and the next frame the next row, so each pane
 * is still drawn several times a second (every 4th frame at 16 panes: 15 times a second at
 * 60 Hz) while a frame repaints a strip of the window. Measured in WebKitGTK with CPU painting:
 * when many panes change in one frame it repaints their bounding box, all 16 panes, and 16
 * panes at 200 tokens/s then took about 50 ms a frame. */
export function rowOf(index: number, count: number): number {
  if (count <= ALL_IN_ONE_FRAME) {
    return 0;
  }
  return Math.floor(index / gridColumns(count));
}
