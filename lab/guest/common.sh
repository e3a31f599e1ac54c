# auditor lab: configuration shared by every posture. Runs once, inside the host, as root.
# Set by the lab before this file: LAB_NAME LAB_INDEX LAB_ADDR LAB_HOSTSIDE LAB_POSTURE
G=/opt/auditor-lab
export DEBIAN_FRONTEND=noninteractive

# setkv FILE KEY VALUE [SEP]: set "KEY<SEP>VALUE" on the active line(s), or append it.
setkv() {
    _sep="${4:- }"
    if grep -Eq "^$2([[:space:]=]|\$)" "$1"; then
        sed -i -E "s|^$2([[:space:]=].*)?\$|$2$_sep$3|" "$1"
    else
        printf '%s%s%s\n' "$2" "$_sep" "$3" >> "$1"
    fi
}

echo "$LAB_NAME" > /etc/hostname
cat > /etc/hosts <<HOSTS
127.0.0.1	localhost
$LAB_ADDR	$LAB_NAME
::1		localhost ip6-localhost ip6-loopback
HOSTS

# Own host keys per host.
rm -f /etc/ssh/ssh_host_*
ssh-keygen -q -A

# The account the auditor logs in with: key only, passwordless sudo.
id auditor >/dev/null 2>&1 || useradd -m -s /bin/bash -c "auditor lab account" auditor
usermod -p '*' auditor
install -d -m 700 -o auditor -g auditor /home/auditor/.ssh
install -m 600 -o auditor -g auditor "$G/lab_key.pub" /home/auditor/.ssh/authorized_keys
printf 'auditor ALL=(ALL) NOPASSWD: ALL\n' > /etc/sudoers.d/auditor
chmod 440 /etc/sudoers.d/auditor
visudo -qcf /etc/sudoers.d/auditor

cat > /etc/issue.net <<'ISSUE'
Authorised access only. Activity on this system is monitored and recorded.
ISSUE

# Debian 13 installs no syslog daemon (the journal is the system log); a posture that runs
# rsyslog on such a release installs it from the base's extra packages, as an administrator would.
if [ "$LAB_SYSLOG" = yes ] && [ ! -x /usr/sbin/rsyslogd ]; then
    dpkg -i "$G"/debs/rsyslog/*.deb >/dev/null
fi
# rsyslog (from the base or from a posture's packages) must not read the real machine's kernel log.
if [ -f /etc/rsyslog.conf ]; then
    sed -i -E 's/^([^#].*imklog.*)$/#\1  # auditor lab: hosts must not read the real kernel log/' /etc/rsyslog.conf
fi
