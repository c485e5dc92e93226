#!/usr/bin/env bash
# Refresh the front-end assets that the website serves itself (MathJax 3, RequireJS and the
# Jupyter widget manager), so that no page needs the network. Versions are pinned in
# tools/vendor/package.json and package-lock.json; the result is committed under
# site_extra/_vendor/ and copied to the site root by Sphinx's html_extra_path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out="$root/site_extra/_vendor"
cd "$here/vendor"
npm ci --silent --no-audit --no-fund
nm="$here/vendor/node_modules"
rm -rf "$out"
mkdir -p "$out/mathjax" "$out/html-manager" "$out/widgets-cdn"
# MathJax: the combined TeX+MathML input / CommonHTML output component, the pieces it loads
# on demand (TeX extensions, the menu, accessibility), and the CommonHTML fonts.
mj="$nm/mathjax/es5"
cp "$mj/tex-mml-chtml.js" "$out/mathjax/"
mkdir -p "$out/mathjax/output"
cp -r "$mj/input" "$mj/ui" "$mj/a11y" "$mj/adaptors" "$out/mathjax/"
cp -r "$mj/output/chtml" "$out/mathjax/output/"
cp "$nm/mathjax/LICENSE" "$out/mathjax/LICENSE"
# RequireJS and the widget manager's AMD bundle (with the icon fonts its CSS refers to).
cp "$nm/requirejs/require.js" "$out/require.js"
hm="$nm/@jupyter-widgets/html-manager/dist"
cp "$hm/embed-amd.js" "$out/html-manager/"
# The bundle's webpack public path resolves its icon fonts to
# "@jupyter-widgets/html-manager/dist/" relative to the page; every page lives in book/.
fonts="$root/site_extra/book/@jupyter-widgets/html-manager/dist"
rm -rf "$root/site_extra/book"
mkdir -p "$fonts"
cp "$hm"/*.woff2 "$hm"/*.woff "$hm"/*.ttf "$fonts/"
cp "$nm/@jupyter-widgets/html-manager/LICENSE" "$out/html-manager/LICENSE" 2>/dev/null || true
echo "Widget modules are bundled in html-manager/embed-amd.js; nothing is fetched from a CDN." > "$out/widgets-cdn/README.txt"
du -sh "$out"
