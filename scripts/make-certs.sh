#!/usr/bin/env bash
# Development PKI for the remote control plane (make certs): a CA and, signed by it, the daemon's
# certificate and two client certificates whose OU is their role. ECDSA P-256 keys; valid for 825 days.
#
#   scripts/make-certs.sh [DIR]   (default artifacts/certs)
#
# Writes ca.crt/ca.key, node.crt/node.key, admin.crt/admin.key, operator.crt/operator.key and a .pfx
# (PKCS#12, empty password) of each leaf. Idempotent: existing files are kept, missing ones are made;
# delete the directory to start over. Never use these outside development.
set -euo pipefail

dir=${1:-"$(cd "$(dirname "$0")/.." && pwd)/artifacts/certs"}
mkdir -p "$dir"
chmod 700 "$dir"
cd "$dir"
umask 077

subject_base="/O=Supervisor Dev"
if [[ ! -f ca.key || ! -f ca.crt ]]; then
    openssl ecparam -name prime256v1 -genkey -noout -out ca.key
    openssl req -x509 -new -key ca.key -sha256 -days 825 -subj "$subject_base/CN=Supervisor Dev CA" \
        -addext "basicConstraints=critical,CA:true,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt
    echo "created $dir/ca.crt"
fi

leaf() {
    local name=$1 ou=$2
    if [[ -f $name.crt && -f $name.key && -f $name.pfx ]]; then
        return
    fi
    openssl ecparam -name prime256v1 -genkey -noout -out "$name.key.tmp"
    openssl pkcs8 -topk8 -nocrypt -in "$name.key.tmp" -out "$name.key"
    rm -f "$name.key.tmp"
    openssl req -new -key "$name.key" -subj "$subject_base/OU=$ou/CN=$name" -out "$name.csr"
    cat > "$name.ext" <<EXT
basicConstraints=critical,CA:false
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
EXT
    openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 825 \
        -extfile "$name.ext" -out "$name.crt" 2>/dev/null
    openssl pkcs12 -export -inkey "$name.key" -in "$name.crt" -certfile ca.crt -passout pass: -out "$name.pfx"
    rm -f "$name.csr" "$name.ext"
    echo "created $dir/$name.crt ($(openssl x509 -in "$name.crt" -noout -subject | sed 's/^subject=//'))"
}

leaf node node
leaf admin admin
leaf operator operator
chmod 644 ca.crt node.crt admin.crt operator.crt
