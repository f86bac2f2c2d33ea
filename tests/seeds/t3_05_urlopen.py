# Seed tutorial 003, "多进程模板程序".
# Changed for the test: no network - urllib.request.urlopen is replaced by
# the local _local_urlopen below (a page holding just the url); the sleeps are
# 0.1 s instead of 1 s.
#coding=utf-8

import multiprocessing
import urllib.request
import time
import io

def _local_urlopen(url):
  return io.BytesIO(url.encode())

urllib.request.urlopen = _local_urlopen

def func1(url) :
  response = urllib.request.urlopen(url)
  html = response.read()
  print(html[0:20])
  time.sleep(0.1)

def func2(url) :
  response = urllib.request.urlopen(url)
  html = response.read()
  print(html[0:20])
  time.sleep(0.1)

if __name__ == '__main__' :
    p1 = multiprocessing.Process(target=func1,args=("http://www.sogou.com",),name="gloryroad1")
    p2 = multiprocessing.Process(target=func2,args=("http://www.baidu.com",),name="gloryroad2")

    p1.start()
    p2.start()
    p1.join()
    p2.join()
    time.sleep(0.1)
    print("done!")
