"""A fix for lost clicks in table cells, until NiceGUI ships its own (zauberzeug/nicegui#6284, PR #6287).

NiceGUI renders a string slot template (``table.add_slot("body-cell-actions", "<q-td>…</q-td>")``) by passing a
fresh component definition to ``Vue.h`` on every render. Vue tells components apart by the identity of that
definition, so any update anywhere on the page (a label's text, a table's pagination) unmounts every cell rendered
from a template and mounts a new one. A button pressed while that happens loses its click: the browser's mouseup
lands on a new node, so no click event fires. That was the dashboard's "lost click" defect (a tag's Members button,
a segment's Edit), seen in about one full browser run in three.

The script below gives each template one definition for the page's life: ``Vue.h`` is wrapped so a definition of
NiceGUI's slot shape (exactly ``props`` and ``template``) is swapped for the first one seen with the same template.
The cell's component then stays mounted and is patched with its new props, as Vue intends. It runs after
``nicegui.js`` and before the app mounts (an inline module script in the body is deferred in document order).
"""

from __future__ import annotations

STABLE_SLOTS_SCRIPT = """
<script type="module">
  const render = globalThis.Vue.h;
  const definitions = new Map();
  function isSlotTemplate(type) {
    if (type === null || typeof type !== "object" || typeof type.template !== "string") return false;
    const keys = Object.keys(type);
    return keys.length === 2 && keys.includes("props");
  }
  globalThis.Vue = {
    ...globalThis.Vue,
    h(type, ...rest) {
      if (isSlotTemplate(type)) {
        if (!definitions.has(type.template)) definitions.set(type.template, type);
        type = definitions.get(type.template);
      }
      return render(type, ...rest);
    },
  };
</script>
"""
