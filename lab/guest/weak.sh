# auditor lab posture "weak": fails the well-known checks (see lab/POSTURES.md).

# --- accounts: weak root password, an empty password, an extra UID 0 -------------------
setkv /etc/login.defs PASS_MAX_DAYS 99999 '	'
setkv /etc/login.defs PASS_MIN_DAYS 0 '	'
setkv /etc/login.defs UMASK 022 '		'
setkv /etc/login.defs ENCRYPT_METHOD MD5 ' '
echo 'root:root' | chpasswd
id bob >/dev/null 2>&1 || useradd -m -s /bin/bash -c "Bob Legacy" bob
echo 'bob:bob123' | chpasswd
id guest >/dev/null 2>&1 || useradd -m -s /bin/bash -c "Guest" guest
passwd -d guest >/dev/null
id toor >/dev/null 2>&1 || useradd -o -u 0 -g 0 -M -d /root -s /bin/bash -c "backdoor root" toor
echo 'toor:toor' | chpasswd

# --- PAM: default stacks without pwquality, faillock or pwhistory; nullok kept ---------
cat > /etc/pam.d/common-auth <<'PAM'
auth	[success=1 default=ignore]	pam_unix.so nullok
auth	requisite			pam_deny.so
auth	required			pam_permit.so
PAM
cat > /etc/pam.d/common-account <<'PAM'
account	[success=1 new_authtok_reqd=done default=ignore]	pam_unix.so
account	requisite			pam_deny.so
account	required			pam_permit.so
PAM
cat > /etc/pam.d/common-password <<'PAM'
password	[success=1 default=ignore]	pam_unix.so obscure yescrypt
password	requisite			pam_deny.so
password	required			pam_permit.so
PAM
# members of group sudo get sudo without typing a password, through PAM rather than sudoers
sed -i '/^@include common-auth/i auth\tsufficient\tpam_succeed_if.so user ingroup sudo quiet' /etc/pam.d/sudo
grep -q '^auth.*pam_succeed_if' /etc/pam.d/sudo

# --- sshd: root and password logins, empty passwords, X11, weak algorithms -------------
cat > /etc/ssh/sshd_config <<'SSHD'
# auditor lab (weak)
Port 22
LogLevel VERBOSE
PermitRootLogin yes
PasswordAuthentication yes
PermitEmptyPasswords yes
KbdInteractiveAuthentication yes
UsePAM yes
X11Forwarding yes
AllowTcpForwarding yes
MaxAuthTries 10
LoginGraceTime 300
MaxSessions 64
HostbasedAuthentication yes
IgnoreRhosts no
PrintMotd no
AcceptEnv LANG LC_*
Ciphers +aes128-cbc,aes256-cbc,3des-cbc
MACs +hmac-sha1,hmac-sha1-96,hmac-md5
KexAlgorithms +diffie-hellman-group14-sha1,diffie-hellman-group1-sha1
HostKeyAlgorithms +ssh-rsa
PubkeyAcceptedAlgorithms +ssh-rsa
Subsystem sftp /usr/lib/openssh/sftp-server
SSHD
chmod 644 /etc/ssh/sshd_config
# a legacy 2048-bit RSA host key
rm -f /etc/ssh/ssh_host_rsa_key /etc/ssh/ssh_host_rsa_key.pub
ssh-keygen -q -t rsa -b 2048 -N '' -f /etc/ssh/ssh_host_rsa_key

# --- telnet through inetd on port 23 (its packages bring a syslog daemon) ----------
dpkg -i "$G"/debs/telnet/*.deb >/dev/null
update-inetd --enable telnet
grep -q '^telnet' /etc/inetd.conf

# --- no logging, no cron, no time sync -------------------------------------------------
# rsyslog stays installed (telnetd depends on a system log daemon) but is not started.
apt-get -q -y -o Dpkg::Use-Pty=0 purge cron chrony logrotate >/dev/null
# rsyslog, were it started: no auth/authpriv file, world-readable files; a legacy auth.log 644.
# Debian 13 has no rsyslog by default; there telnetd brings inetutils-syslogd (/etc/syslog.conf),
# treated alike, and the journal (Debian 13's system log) is kept in memory only.
for conf in /etc/rsyslog.conf /etc/syslog.conf; do
    if [ -f "$conf" ]; then
        sed -i -E 's/^\$FileCreateMode.*/$FileCreateMode 0644/; s|^(auth,authpriv\.\*)|#\1|' "$conf"
    fi
done
if [ -f /etc/systemd/journald.conf ]; then
    mkdir -p /etc/systemd/journald.conf.d
    printf '[Journal]\nStorage=volatile\n' > /etc/systemd/journald.conf.d/50-volatile.conf
fi
install -m 644 -o root -g adm /dev/null /var/log/auth.log
# no package index: the host was never updated since installation
find /var/lib/apt/lists -maxdepth 1 -type f -name '*_*' -delete

# --- OpenSSL: TLS 1.0 allowed system-wide ------------------------------------------------
grep -qx '\[openssl_init\]' /etc/ssl/openssl.cnf
sed -i 's/^\[openssl_init\]$/[openssl_init]\nssl_conf = ssl_sect/' /etc/ssl/openssl.cnf
cat >> /etc/ssl/openssl.cnf <<'OSSL'

[ssl_sect]
system_default = system_default_sect

[system_default_sect]
MinProtocol = TLSv1
CipherString = DEFAULT:@SECLEVEL=0
OSSL

# --- sloppy permissions -----------------------------------------------------------------
chmod 644 /etc/shadow
printf '# legacy application settings\ndb_password=changeme\n' > /etc/legacy-app.conf
chmod 666 /etc/legacy-app.conf
