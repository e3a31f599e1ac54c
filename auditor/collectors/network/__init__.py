"""Network collection from outside: nmap, TLS, SSH algorithms, passive web checks, and the facts made of them."""
