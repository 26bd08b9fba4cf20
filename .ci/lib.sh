# shellcheck shell=bash
# Helpers shared by the .ci scripts (sourced, not run).

# The repository root, whatever the caller's directory.
ci_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# ci_configure BUILDDIR [MESON-SETUP-ARGS...]: configures BUILDDIR (relative
# to the root) or, if it exists, reconfigures it with the given options.
ci_configure() {
    local dir=$1
    shift
    if [ -f "$ci_root/$dir/meson-private/coredata.dat" ]; then
        meson setup --reconfigure "$ci_root/$dir" "$ci_root" "$@" ||
            meson setup --wipe "$ci_root/$dir" "$ci_root" "$@"
    else
        meson setup "$ci_root/$dir" "$ci_root" "$@"
    fi
}
