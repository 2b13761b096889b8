#!/bin/sh
# The module layering of core/ (docs/architecture.md): lower folders never include upper ones.
# Prints every offending include and exits 1 when there is one.
#   common                      <- everything
#   tokenizer, data, store, openai (and common)
#   model, dist <- train <- eval <- plad <- report, serve, bench
set -u
cd "$(dirname "$0")/../../core" || exit 2
status=0
check() { # folder, then the folders it may not include
    folder=$1
    shift
    for banned in "$@"; do
        hits=$(grep -rnE "#[[:space:]]*include[[:space:]]*\"$banned/" "$folder" 2>/dev/null)
        if [ -n "$hits" ]; then
            echo "$folder/ must not include $banned/:"
            echo "$hits"
            status=1
        fi
    done
}
upper="plad report serve bench"
check common tokenizer data store openai model dist train eval $upper
check tokenizer data store openai model dist train eval $upper
check data tokenizer store openai model dist train eval $upper
check store tokenizer data openai model dist train eval $upper
check openai tokenizer data store model dist train eval $upper
check model data store openai dist train eval $upper
check dist tokenizer data store openai model train eval $upper
check train store openai eval $upper
check eval store $upper
check plad report serve bench
check report serve bench
check serve plad report bench
exit $status
