from kerastl.cli import main

raise SystemExit(main())
