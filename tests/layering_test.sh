#!/usr/bin/env bash
# Fails when a source or header includes a folder above its own layer:
#   base < fs < probes < policies < actions < agent
# (policies/gc below policies/alerts). The build enforces the same through
# per-folder include directories; this test also covers headers that no .cc
# of their own folder includes. Usage: layering_test.sh SOURCE_DIR
set -u
top=${1:?source dir}
cd "$top" || exit 2
rank() {
  case $1 in
    base) echo 0 ;; fs) echo 1 ;; probes) echo 2 ;;
    policies/gc) echo 3 ;; policies/alerts) echo 4 ;;
    actions) echo 5 ;; agent) echo 6 ;; *) echo -1 ;;
  esac
}
layer_of() {  # folder part that ranks: policies/gc, probes, ...
  case $1 in policies/*) echo "${1%%/*}/$(echo "$1" | cut -d/ -f2)" ;; *) echo "${1%%/*}" ;; esac
}
bad=0
checked=0
while IFS= read -r f; do
  own=$(layer_of "$f")
  r_own=$(rank "$own")
  [ "$r_own" -ge 0 ] || continue
  checked=$((checked + 1))
  while IFS= read -r inc; do
    target=$(layer_of "$inc")
    r=$(rank "$target")
    if [ "$r" -lt 0 ]; then
      echo "$f includes \"$inc\": not a layer folder"
      bad=1
    elif [ "$r" -gt "$r_own" ]; then
      echo "$f includes \"$inc\": $target is above $own"
      bad=1
    fi
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
done < <(find base fs probes policies actions agent -name '*.h' -o -name '*.cc' | sort)
echo "layering: $checked files checked"
[ "$checked" -gt 0 ] || { echo "no files found"; exit 1; }
exit $bad
