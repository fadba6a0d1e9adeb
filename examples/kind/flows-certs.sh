#!/bin/sh
# Certificates for the cluster-wide flows view (xcnid --flows-listen, xcnictl
# flows --agent), made with openssl: a CA, one server certificate that every
# agent serves (the name xcni-flows, serverAuth) and client certificates
# (clientAuth), each as a kubernetes.io/tls Secret's files (tls.crt, tls.key,
# ca.crt). docs/agent.md, "Flows over the network", says who holds which.
#
#   flows-certs.sh DIR                 DIR/ca.{crt,key}, DIR/server/, DIR/client/
#   flows-certs.sh DIR --client NAME   one more client, DIR/NAME/ (the CA in DIR)
#   flows-certs.sh DIR --client NAME --namespace NS
#                                      a tenant's client: OU=namespace:NS, the agents
#                                      answer it the flows with an end in NS only
#   flows-certs.sh DIR --apply         also the Secrets in kube-system (kubectl):
#                                      xcni-flows-ca, xcni-flows-server, xcni-flows-client
#
# Keys are EC P-256; certificates last DAYS days (default 365). Nothing is
# overwritten: a DIR that has a CA issues more clients with it.
set -eu

usage() { echo "usage: $0 DIR [--client NAME [--namespace NS]] [--apply]" >&2; exit 2; }
[ $# -ge 1 ] || usage
dir=$1; shift
client=client apply= ns=
while [ $# -gt 0 ]; do
	case $1 in
	--client) [ $# -ge 2 ] || usage; client=$2; shift 2 ;;
	--apply) apply=1; shift ;;
	--namespace) [ $# -ge 2 ] || usage; ns=$2; shift 2 ;;
	*) usage ;;
	esac
done
case $client in
server | ca | */* | .* | "") echo "$0: --client $client: a name of its own (not server or ca, no /)" >&2; exit 2 ;;
esac
case $ns in
*[!a-z0-9-]*) echo "$0: --namespace $ns: a namespace name (a-z, 0-9, -)" >&2; exit 2 ;;
esac
days=${DAYS:-365}
umask 077
mkdir -p "$dir"

if [ ! -e "$dir/ca.key" ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
		-subj "/O=xcni/CN=xcni flows CA" -keyout "$dir/ca.key" -out "$dir/ca.crt" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
		2>/dev/null
fi

# issue NAME SUBJECT EXTENSIONS: DIR/NAME/{tls.key,tls.crt,ca.crt}, signed by the CA.
issue() {
	[ -e "$dir/$1/tls.crt" ] && return 0
	mkdir -p "$dir/$1"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" \
		-keyout "$dir/$1/tls.key" -out "$dir/$1/tls.csr" 2>/dev/null
	printf '%s\n' "$3" >"$dir/$1/ext.cnf"
	openssl x509 -req -in "$dir/$1/tls.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
		-CAcreateserial -days "$days" -extfile "$dir/$1/ext.cnf" -out "$dir/$1/tls.crt" 2>/dev/null
	rm -f "$dir/$1/tls.csr" "$dir/$1/ext.cnf"
	cp "$dir/ca.crt" "$dir/$1/ca.crt"
}
issue server "/O=xcni/CN=xcni-flows" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:xcni-flows"
issue "$client" "/O=xcni${ns:+/OU=namespace:$ns}/CN=$client" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
echo "$0: $dir/server (every agent's --flows-tls), $dir/$client (xcnictl flows --tls)"

if [ -n "$apply" ]; then
	secret() { # NAME FILES...: a Secret in kube-system, created or replaced
		n=$1; shift
		kubectl -n kube-system create secret generic "$n" "$@" --dry-run=client -o yaml |
			kubectl apply -f -
	}
	secret xcni-flows-ca --from-file=ca.crt="$dir/ca.crt" --from-file=ca.key="$dir/ca.key"
	secret xcni-flows-server --type kubernetes.io/tls --from-file="$dir/server/tls.crt" \
		--from-file="$dir/server/tls.key" --from-file="$dir/server/ca.crt"
	secret xcni-flows-"$client" --type kubernetes.io/tls --from-file="$dir/$client/tls.crt" \
		--from-file="$dir/$client/tls.key" --from-file="$dir/$client/ca.crt"
fi
