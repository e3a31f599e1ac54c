#!/bin/sh
# auditor lab: runs as PID 1 of a fresh PID namespace, in a private mount namespace, inside
# the host's network namespace. Mounts what the host needs and execs its init, chrooted.
set -eu
R="$1"
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
mount -t tmpfs -o mode=755,size=4m,nosuid tmpfs "$R/dev"
for node in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0"; do
    set -- $node
    mknod -m 666 "$R/dev/$1" c "$2" "$3"
done
mkdir -p "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"
ln -s /proc/self/fd/2 "$R/dev/stderr"
mount -t tmpfs -o mode=1777,nosuid,nodev,size=64m tmpfs "$R/dev/shm"
mount -t tmpfs -o mode=755,nosuid,nodev,size=64m tmpfs "$R/run"
exec chroot "$R" /usr/bin/python3 -u /opt/auditor-lab/init.py
