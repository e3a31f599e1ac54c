#!/bin/sh
# auditor remediation guard, run on the target as root before any change:
#   guard.sh arm DIR SECONDS
# keeps a copy of every file whose change can lock administrators out (sshd, PAM, firewall) in
# DIR/files, then starts a timer in a session of its own: unless DIR/confirmed exists after
# SECONDS (the controller creates it through a fresh key login with sudo, after sshd was
# reloaded), the copies are put back, files that did not exist are removed, the auditor firewall
# table is dropped and sshd is reloaded. Everything it does is logged in DIR/guard.log.
set -u
[ $# -ge 3 ] || { echo "usage: guard.sh arm DIR SECONDS" >&2; exit 2; }
dir=$2
seconds=$3
case "$seconds" in ''|*[!0-9]*) echo "guard.sh: SECONDS must be a number" >&2; exit 2 ;; esac

if [ "$1" = timer ]; then  # the detached half: wait, then restore unless confirmed
    had_table=$4
    trap '' HUP
    sleep "$seconds"
    exec 3>>"$dir/guard.log"
    if [ -e "$dir/confirmed" ]; then
        echo "$(date -u +%FT%TZ) confirmed: nothing to restore" >&3
        exit 0
    fi
    echo "$(date -u +%FT%TZ) no confirmation after ${seconds}s: restoring" >&3
    while read -r what path saved; do
        case "$what" in
            keep) cp -p "$saved" "$path" ;;
            absent) rm -f "$path" ;;
        esac
    done < "$dir/manifest"
    if [ "$had_table" = 0 ]; then
        nft delete table inet auditor 2>/dev/null
    elif [ -e /etc/auditor/nftables-auditor.nft ]; then
        nft -f /etc/auditor/nftables-auditor.nft
    fi
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        systemctl reload ssh 2>/dev/null || systemctl reload sshd
    elif [ -r /run/sshd.pid ]; then
        kill -HUP "$(cat /run/sshd.pid)"
    fi
    echo "$(date -u +%FT%TZ) restored" >&3
    exit 0
fi

[ "$1" = arm ] || { echo "usage: guard.sh arm DIR SECONDS" >&2; exit 2; }
umask 077
mkdir -p "$dir/files"
: > "$dir/manifest"
for f in /etc/ssh/sshd_config /etc/pam.d/common-auth /etc/pam.d/common-account /etc/pam.d/common-password \
         /etc/pam.d/system-auth /etc/pam.d/password-auth /etc/security/faillock.conf \
         /etc/security/pwquality.conf /etc/nftables.conf /etc/auditor/nftables-auditor.nft; do
    saved="$dir/files/$(printf '%s' "$f" | tr / _)"
    if [ -e "$f" ]; then
        cp -p "$f" "$saved" && printf 'keep %s %s\n' "$f" "$saved" >> "$dir/manifest"
    else
        printf 'absent %s -\n' "$f" >> "$dir/manifest"
    fi
done
nft list table inet auditor >/dev/null 2>&1 && had_table=1 || had_table=0
echo "$(date -u +%FT%TZ) armed for ${seconds}s" >> "$dir/guard.log"
# A session of its own: sudo's pty and the SSH session ending must not take the timer with them.
setsid /bin/sh "$0" timer "$dir" "$seconds" "$had_table" </dev/null >/dev/null 2>&1 &
exit 0
