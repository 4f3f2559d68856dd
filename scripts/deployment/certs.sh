#!/usr/bin/env bash
# Generate the TLS material for the Docker engine's TCP listener, as `dockerd --tlsverify` expects it:
#   DIR/ca.pem, DIR/server-cert.pem, DIR/server-key.pem (SAN 127.0.0.1, localhost), DIR/cert.pem, DIR/key.pem
#   (a client certificate signed by the same CA). Existing files are kept.   Usage: certs.sh DIR
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
dir="${1:?usage: certs.sh DIR}"
[ -f "$dir/key.pem" ] && [ -f "$dir/server-key.pem" ] && exit 0
command -v openssl >/dev/null 2>&1 || apt_install openssl
mkdir -p "$dir"
cd "$dir"
umask 077
openssl_quiet() { openssl "$@" 2>>openssl.log || die "openssl $1 failed; see $dir/openssl.log"; }
openssl_quiet req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=dsjobs deployment CA" \
    -keyout ca-key.pem -out ca.pem
openssl_quiet req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server-key.pem -out server.csr
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
openssl_quiet x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 \
    -extfile server.ext -out server-cert.pem
openssl_quiet req -newkey rsa:2048 -nodes -subj "/CN=dsjobs-client" -keyout key.pem -out client.csr
printf 'extendedKeyUsage=clientAuth\n' >client.ext
openssl_quiet x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 \
    -extfile client.ext -out cert.pem
rm -f server.csr client.csr server.ext client.ext
log "TLS certificates in $dir"
