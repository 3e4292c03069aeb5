# Generates the cluster's PKI with openssl into $state/pki (sourced by `up`).
make_certs() {
  local pki=$state/pki
  [[ -f $pki/done ]] && return 0
  mkdir -p "$pki" && cd "$pki"
  ca() {  # ca NAME CN
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.crt" -days 3650 \
      -subj "/CN=$2" 2>/dev/null
  }
  leaf() {  # leaf NAME CA SUBJECT EXTENSIONS
    openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$3" 2>/dev/null
    printf '%s\n' "$4" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 3650 \
      -out "$1.crt" -extfile "$1.ext" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
  }
  ca ca governor-test-ca
  ca front-proxy-ca governor-test-front-proxy-ca
  leaf apiserver ca /CN=kube-apiserver \
    "subjectAltName=IP:$address,IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
extendedKeyUsage=serverAuth"
  leaf admin ca "/O=system:masters/CN=governor-admin" "extendedKeyUsage=clientAuth"
  leaf front-proxy-client front-proxy-ca /CN=front-proxy-client "extendedKeyUsage=clientAuth"
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  touch done
  cd - >/dev/null
}

write_kubeconfig() {
  local pki=$state/pki
  cat >"$kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: governor-test
  cluster:
    server: https://$address:$apiserver_port
    certificate-authority: $pki/ca.crt
users:
- name: governor-admin
  user:
    client-certificate: $pki/admin.crt
    client-key: $pki/admin.key
contexts:
- name: governor-test
  context: {cluster: governor-test, user: governor-admin, namespace: default}
current-context: governor-test
KUBECONFIG
}

# The node's client certificate (the Node authorizer's system:node:NAME in system:nodes).
make_node_certs() {
  local pki=$state/pki
  [[ -f $pki/node.crt ]] && return 0
  openssl req -newkey rsa:2048 -nodes -keyout "$pki/node.key" -out "$pki/node.csr" \
    -subj "/O=system:nodes/CN=system:node:$node_name" 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' >"$pki/node.ext"
  openssl x509 -req -in "$pki/node.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 3650 -out "$pki/node.crt" -extfile "$pki/node.ext" 2>/dev/null
  rm -f "$pki/node.csr" "$pki/node.ext"
}
