# auditor lab posture "hardened": passes the well-known checks (see lab/POSTURES.md).

# --- accounts and password policy -------------------------------------------------------
setkv /etc/login.defs PASS_MAX_DAYS 90 '	'
setkv /etc/login.defs PASS_MIN_DAYS 1 '	'
setkv /etc/login.defs PASS_WARN_AGE 7 '	'
setkv /etc/login.defs UMASK 027 '		'
setkv /etc/login.defs ENCRYPT_METHOD YESCRYPT ' '
useradd -D -f 45
id alice >/dev/null 2>&1 || useradd -m -s /bin/bash -c "Alice Operator" alice
echo 'alice:Lab-Hardened-Passw0rd!2024' | chpasswd
chage -M 90 -m 1 -W 7 -I 45 alice
cp /etc/issue.net /etc/issue

cat > /etc/security/pwquality.conf <<'PWQ'
# auditor lab: strong password quality
minlen = 14
dcredit = -1
ucredit = -1
lcredit = -1
ocredit = -1
minclass = 4
maxrepeat = 3
retry = 3
enforce_for_root
PWQ
cat > /etc/security/faillock.conf <<'FL'
# auditor lab: lock after 5 failures for 15 minutes
deny = 5
unlock_time = 900
fail_interval = 900
FL
cat > /etc/pam.d/common-auth <<'PAM'
# auditor lab (hardened): faillock around pam_unix, no nullok; a good password skips authfail and pam_deny
auth	required			pam_faillock.so preauth silent deny=5 unlock_time=900
auth	[success=2 default=ignore]	pam_unix.so
auth	[default=die]			pam_faillock.so authfail deny=5 unlock_time=900
auth	requisite			pam_deny.so
auth	required			pam_permit.so
auth	sufficient			pam_faillock.so authsucc deny=5 unlock_time=900
PAM
cat > /etc/pam.d/common-account <<'PAM'
# auditor lab (hardened)
account	[success=1 new_authtok_reqd=done default=ignore]	pam_unix.so
account	requisite			pam_deny.so
account	required			pam_permit.so
account	required			pam_faillock.so
PAM
cat > /etc/pam.d/common-password <<'PAM'
# auditor lab (hardened): quality, history of 10, strong hash
password	requisite			pam_pwquality.so retry=3
password	requisite			pam_pwhistory.so remember=10 enforce_for_root use_authtok
password	[success=1 default=ignore]	pam_unix.so obscure use_authtok try_first_pass yescrypt
password	requisite			pam_deny.so
password	required			pam_permit.so
PAM
# su only for members of the (empty) group sugroup: administrators elevate through sudo
getent group sugroup >/dev/null || groupadd -r sugroup
sed -i '/^auth[[:space:]]\+sufficient[[:space:]]\+pam_rootok.so/a auth       required   pam_wheel.so use_uid group=sugroup' /etc/pam.d/su
grep -q '^auth.*pam_wheel.so use_uid group=sugroup' /etc/pam.d/su
# SSH sessions get UMASK of login.defs only through pam_umask
grep -q pam_umask /etc/pam.d/common-session || printf 'session\toptional\t\t\tpam_umask.so\n' >> /etc/pam.d/common-session
cat > /etc/profile.d/tmout.sh <<'TM'
# auditor lab: idle shells end after 5 minutes
TMOUT=300
readonly TMOUT
export TMOUT
TM

# --- sshd: admin port 2222 only (lab/postures.py ssh_port), members of sshusers only -----
getent group sshusers >/dev/null || groupadd -r sshusers
usermod -aG sshusers auditor
usermod -aG sshusers alice
cat > /etc/ssh/sshd_config <<'SSHD'
# auditor lab (hardened)
Port 2222
AllowGroups sshusers
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_ecdsa_key
HostKey /etc/ssh/ssh_host_rsa_key
SyslogFacility AUTH
LogLevel VERBOSE
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
PermitEmptyPasswords no
KbdInteractiveAuthentication no
HostbasedAuthentication no
IgnoreRhosts yes
UsePAM yes
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PermitUserEnvironment no
MaxAuthTries 4
MaxSessions 10
MaxStartups 10:30:60
LoginGraceTime 60
ClientAliveInterval 300
ClientAliveCountMax 1
Banner /etc/issue.net
PrintMotd no
AcceptEnv LANG LC_*
Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr
MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512,hmac-sha2-256
KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group-exchange-sha256
Subsystem sftp /usr/lib/openssh/sftp-server
SSHD
chmod 600 /etc/ssh/sshd_config

# --- logging: rsyslog forwards to the central server (queued), logrotate keeps 13 weeks ---
cat > /etc/rsyslog.d/90-remote.conf <<RS
# auditor lab: forward everything to the central log server over TCP. The in-memory queue
# and endless retry keep logging going when the server is unreachable.
\$ActionQueueType LinkedList
\$ActionQueueSize 10000
\$ActionQueueSaveOnShutdown off
\$ActionResumeRetryCount -1
*.* @@$LAB_HOSTSIDE:514
RS
sed -i -E 's/^([[:space:]]*)rotate[[:space:]]+[0-9]+/\1rotate 13/; s/^([[:space:]]*)(daily|monthly)$/\1weekly/' /etc/logrotate.d/rsyslog
sed -i -E 's/^rotate[[:space:]]+[0-9]+/rotate 13/; s/^(daily|monthly)$/weekly/' /etc/logrotate.conf

# --- time: chrony with one server (runs with -x: it never touches the clock) ------------
sed -i -E '/^(pool|server|rtcsync)([[:space:]]|$)/d' /etc/chrony/chrony.conf
printf 'server %s iburst\n' "$LAB_HOSTSIDE" >> /etc/chrony/chrony.conf

# --- firewall --------------------------------------------------------------------------
cat > /etc/nftables.conf <<'NFT'
#!/usr/sbin/nft -f
# auditor lab (hardened): default deny inbound
flush ruleset
table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		iif "lo" accept
		ip saddr 127.0.0.0/8 iif != "lo" drop
		ct state established,related accept
		ct state invalid drop
		tcp dport 2222 ct state new accept
		tcp dport { 80, 443 } ct state new accept
		icmp type echo-request accept
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
	}
	chain output {
		type filter hook output priority filter; policy accept;
	}
}
NFT
chmod 700 /etc/nftables.conf

# --- kernel parameters: the file is complete; the lab applies only net.* (per namespace)
cat > /etc/sysctl.d/60-lab-hardening.conf <<'SYS'
# auditor lab (hardened)
net.ipv4.ip_forward = 0
net.ipv4.conf.all.send_redirects = 0
net.ipv4.conf.default.send_redirects = 0
net.ipv4.conf.all.accept_redirects = 0
net.ipv4.conf.default.accept_redirects = 0
net.ipv4.conf.all.accept_source_route = 0
net.ipv4.conf.default.accept_source_route = 0
net.ipv4.conf.default.rp_filter = 1
net.ipv4.conf.default.log_martians = 1
net.ipv6.conf.all.forwarding = 0
net.ipv6.conf.all.accept_redirects = 0
net.ipv6.conf.default.accept_redirects = 0
net.ipv6.conf.all.accept_source_route = 0
net.ipv6.conf.default.accept_source_route = 0
net.ipv4.conf.all.rp_filter = 1
net.ipv4.conf.all.log_martians = 1
net.ipv4.icmp_echo_ignore_broadcasts = 1
net.ipv4.tcp_syncookies = 1
kernel.randomize_va_space = 2
kernel.dmesg_restrict = 1
fs.suid_dumpable = 0
SYS

# --- audit configuration (the daemon cannot run in a lab host; its files are real) -------
dpkg -i "$G"/debs/auditd/*.deb >/dev/null
cat > /etc/audit/rules.d/50-lab.rules <<'AR'
-w /etc/sudoers -p wa -k scope
-w /etc/sudoers.d -p wa -k scope
-w /etc/passwd -p wa -k identity
-w /etc/group -p wa -k identity
-w /etc/shadow -p wa -k identity
-w /etc/gshadow -p wa -k identity
-w /var/log/lastlog -p wa -k logins
-w /var/run/faillock -p wa -k logins
-w /etc/security/opasswd -p wa -k identity
-a always,exit -F arch=b64 -S execve -F euid=0 -k exec
-a always,exit -F arch=b32 -S execve -F euid=0 -k exec
-a always,exit -F arch=b64 -S adjtimex,settimeofday,clock_settime -k time-change
-w /etc/localtime -p wa -k time-change
-w /etc/ssh/sshd_config -p wa -k sshd
-e 2
AR
augenrules >/dev/null 2>&1 || true
setkv /etc/audit/auditd.conf max_log_file_action keep_logs ' = '
setkv /etc/audit/auditd.conf space_left_action email ' = '
setkv /etc/audit/auditd.conf action_mail_acct root ' = '
setkv /etc/audit/auditd.conf admin_space_left_action single ' = '

# --- anti-malware: clamd with a small local signature database (no network), daily scan -----
dpkg -i "$G"/debs/clamav/*.deb >/dev/null
install -d -m 755 /usr/local/share/clamav-local
# MD5 signature (md5:size:name) of a harmless lab test file; the daily job reinstalls the agency's
# local database, as a local mirror would.
printf 'auditor lab malware test file\n' > /usr/local/share/clamav-local/lab-test-file.txt
printf '%s:%s:Auditor.Lab.TestFile\n' "$(md5sum < /usr/local/share/clamav-local/lab-test-file.txt | cut -d' ' -f1)" \
    "$(wc -c < /usr/local/share/clamav-local/lab-test-file.txt)" > /usr/local/share/clamav-local/lab-local.hdb
cat > /etc/cron.daily/clamav-local-sigs <<'SIG'
#!/bin/sh
# auditor lab: install the local ClamAV signature database (stands in for freshclam's mirror)
install -m 644 -o clamav -g clamav /usr/local/share/clamav-local/lab-local.hdb /var/lib/clamav/lab-local.hdb
SIG
chmod 755 /etc/cron.daily/clamav-local-sigs
/etc/cron.daily/clamav-local-sigs
cat > /etc/cron.d/clamav-scan <<'SCAN'
# auditor lab: nightly malware scan through clamd
30 2 * * * root nice -n 19 ionice -c3 clamdscan --fdpass --quiet --infected /home /srv /var/www /tmp
SCAN

# --- automatic security updates, file integrity monitoring (from the base's extra packages) ---
dpkg -i "$G"/debs/hardening/*.deb >/dev/null
# What "dpkg-reconfigure -plow unattended-upgrades" writes when the administrator says yes.
cat > /etc/apt/apt.conf.d/20auto-upgrades <<'AUTO'
APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Unattended-Upgrade "1";
AUTO
# aide-common enables its daily check timer when configured; make sure it is, as
# "systemctl enable dailyaidecheck.timer" does (bookworm hosts have no systemctl). Without
# systemd running, aide-common's /etc/cron.daily/aide runs the same daily check.
if [ ! -e /etc/systemd/system/timers.target.wants/dailyaidecheck.timer ]; then
    install -d -m 755 /etc/systemd/system/timers.target.wants
    ln -s /lib/systemd/system/dailyaidecheck.timer /etc/systemd/system/timers.target.wants/dailyaidecheck.timer
fi

# --- backup: nightly archive of /etc into /backup, and a first one now ----------------------
install -d -m 700 /backup
cat > /etc/cron.d/backup-etc <<'BK'
# auditor lab: nightly configuration backup, kept 14 days
15 1 * * * root tar -czf /backup/etc-$(date +\%F).tar.gz -C / etc && find /backup -name 'etc-*.tar.gz' -mtime +14 -delete
BK
tar -czf "/backup/etc-$(date +%F).tar.gz" -C / etc 2>/dev/null

# --- core dumps, cron access, unneeded kernel modules, temporary filesystems ---------------
printf '# auditor lab (hardened): no core dumps\n* hard core 0\n' > /etc/security/limits.d/60-lab-core.conf
printf 'root\n' > /etc/cron.allow
chmod 600 /etc/cron.allow
install -d -m 755 /etc/modprobe.d
for m in cramfs freevxfs hfs hfsplus jffs2 udf usb-storage dccp rds sctp tipc; do
    printf 'install %s /bin/false\nblacklist %s\n' "$m" "$m"
done > /etc/modprobe.d/60-lab-unneeded.conf
# The lab's init mounts these at every start (Posture.tmp_mounts); fstab keeps them after a reboot.
cat >> /etc/fstab <<'FSTAB'
tmpfs /tmp tmpfs rw,nosuid,nodev,noexec,mode=1777,size=64m 0 0
tmpfs /var/tmp tmpfs rw,nosuid,nodev,noexec,mode=1777,size=64m 0 0
tmpfs /dev/shm tmpfs rw,nosuid,nodev,noexec,size=64m 0 0
FSTAB

# --- file permissions ----------------------------------------------------------------------
chown root:root /etc/passwd /etc/group
chmod 644 /etc/passwd /etc/group
chown root:shadow /etc/shadow /etc/gshadow
chmod 640 /etc/shadow /etc/gshadow
chmod 600 /etc/crontab
chmod 700 /etc/cron.d /etc/cron.daily /etc/cron.hourly /etc/cron.weekly /etc/cron.monthly
chmod 600 /etc/ssh/ssh_host_*_key

# --- AIDE's reference database, last so that it records the configured host ----------------
# aideinit runs "aide --init" with Debian's configuration and moves aide.db.new to aide.db.
# systemd-tmpfiles gives aide's folders to _aide at boot (aide-common.conf); lab hosts boot without it.
install -d -m 700 -o _aide -g root /var/lib/aide /run/aide
install -d -m 2755 -o _aide -g adm /var/log/aide
# Debian 13's aide.conf reads the machine ID, which every installed system has; the base has none.
[ -s /etc/machine-id ] || tr -d '-' < /proc/sys/kernel/random/uuid > /etc/machine-id
aideinit --yes --force >/dev/null
