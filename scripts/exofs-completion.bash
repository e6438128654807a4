# bash completion for exofs. Install: source it from ~/.bashrc, or copy it to
# /etc/bash_completion.d/exofs (scripts/run.sh --install-mount-helper does). It asks exofs itself through
# System.CommandLine's [suggest:POSITION] directive, so it always offers what the installed build accepts.
_exofs_complete() {
  local IFS=$'\n'
  local cmd="${EXOFS_COMPLETION_EXOFS:-${COMP_WORDS[0]}}"
  COMPREPLY=($(compgen -W "$("$cmd" "[suggest:${COMP_POINT}]" "${COMP_LINE}" 2>/dev/null)" -- "${COMP_WORDS[COMP_CWORD]}"))
  # Nothing from exofs (a path argument): fall back to file names.
  [ ${#COMPREPLY[@]} -eq 0 ] && COMPREPLY=($(compgen -f -- "${COMP_WORDS[COMP_CWORD]}"))
  return 0
}
complete -F _exofs_complete exofs
