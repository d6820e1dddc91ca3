# Helpers the bench scripts share; each sources it:
#   . "$(dirname "$0")/lib.sh"

show() { # show FILE: a CSV file as aligned columns when column(1) is there
    if command -v column >/dev/null 2>&1; then column -s, -t < "$1"; else cat "$1"; fi
}
median() { # median of the numbers on stdin; nothing for no input
    sort -g | awk '{a[NR]=$1} END {if (NR == 0) print ""; else if (NR%2) print a[(NR+1)/2]; else printf "%.6g\n", (a[NR/2]+a[NR/2+1])/2}'
}
num() { # num KEY < json: the first number after "KEY":
    sed -n "s/.*\"$1\":\([0-9.eE+-]*\).*/\1/p" | head -n 1
}
jnum() { # jnum FILE KEY: the first number after "KEY": in a JSON file
    num "$2" < "$1"
}
