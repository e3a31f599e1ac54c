# auditor lab posture "mixed": about half of the hardened settings (see lab/POSTURES.md).

setkv /etc/login.defs PASS_MAX_DAYS 180 '	'
setkv /etc/login.defs PASS_MIN_DAYS 0 '	'
setkv /etc/login.defs PASS_WARN_AGE 7 '	'
setkv /etc/login.defs UMASK 022 '		'
id carol >/dev/null 2>&1 || useradd -m -s /bin/bash -c "Carol Admin" carol
echo 'carol:Mixed-Passw0rd' | chpasswd

cat > /etc/security/pwquality.conf <<'PWQ'
# auditor lab (mixed): length only, no character classes
minlen = 8
PWQ
cat > /etc/pam.d/common-auth <<'PAM'
auth	[success=1 default=ignore]	pam_unix.so
auth	requisite			pam_deny.so
auth	required			pam_permit.so
PAM
cat > /etc/pam.d/common-account <<'PAM'
account	[success=1 new_authtok_reqd=done default=ignore]	pam_unix.so
account	requisite			pam_deny.so
account	required			pam_permit.so
PAM
cat > /etc/pam.d/common-password <<'PAM'
password	requisite			pam_pwquality.so retry=3
password	[success=1 default=ignore]	pam_unix.so obscure use_authtok try_first_pass yescrypt
password	requisite			pam_deny.so
password	required			pam_permit.so
PAM

cat > /etc/ssh/sshd_config <<'SSHD'
# auditor lab (mixed)
Port 22
SyslogFacility AUTH
LogLevel VERBOSE
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
PermitEmptyPasswords no
KbdInteractiveAuthentication no
UsePAM yes
X11Forwarding no
MaxAuthTries 6
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
SSHD
chmod 644 /etc/ssh/sshd_config

# rsyslog runs (local files only, no forwarding); chrony is installed but not running.
# Debian 13: a default installation's logging instead: no rsyslog, systemd's journal kept on disk
# (/var/log/journal). journald cannot run in the lab (no systemd as PID 1): see lab/POSTURES.md.
if [ "$LAB_RELEASE" = trixie ] && [ ! -d /var/log/journal ]; then
    install -d -m 2755 -g systemd-journal /var/log/journal
fi

cat > /etc/nftables.conf <<'NFT'
#!/usr/sbin/nft -f
# auditor lab (mixed): a ruleset that accepts everything by default
flush ruleset
table inet filter {
	chain input {
		type filter hook input priority filter; policy accept;
		iif "lo" accept
		tcp dport 22 accept
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
	}
	chain output {
		type filter hook output priority filter; policy accept;
	}
}
NFT

chown root:shadow /etc/shadow
chmod 640 /etc/shadow

# --- audit, anti-malware, packages, backup: installed, half configured -----------------------
# auditd with the Debian defaults: no rules, space_left_action SYSLOG, ROTATE with 5 files.
dpkg -i "$G"/debs/auditd/*.deb >/dev/null
# ClamAV installed but clamd not started, signatures a month old, no scheduled scan.
dpkg -i "$G"/debs/clamav/*.deb >/dev/null
printf '%s:%s:Auditor.Lab.TestFile\n' "$(printf 'auditor lab malware test file\n' | md5sum | cut -d' ' -f1)" 30 \
    > /var/lib/clamav/lab-local.hdb
touch -d '30 days ago' /var/lib/clamav/lab-local.hdb
# package index a month old
touch -d '30 days ago' /var/lib/apt/lists/*Release
# a backup job, but its last archive is three weeks old
install -d -m 700 /backup
printf '15 1 * * 0 root tar -czf /backup/etc-weekly.tar.gz -C / etc\n' > /etc/cron.d/backup-etc
tar -czf /backup/etc-weekly.tar.gz -C / etc 2>/dev/null
touch -d '21 days ago' /backup/etc-weekly.tar.gz
