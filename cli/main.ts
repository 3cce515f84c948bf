#!/usr/bin/env node
console.log("stepflare");
