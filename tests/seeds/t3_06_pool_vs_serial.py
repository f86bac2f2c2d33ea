# Seed tutorial 003, "对比单进程和多进程程序执行的效率".
# Changed for the test: m1 sleeps 0.001 s instead of 0.05 (the original
# takes 50 s in its single-process half).
#coding: utf-8

import multiprocessing
import time

def m1(x):
    time.sleep(0.001)
    return x * x

if __name__ == '__main__':
    #多进程执行
    pool = multiprocessing.Pool(multiprocessing.cpu_count())  #进程池,内核有几个就有几个进程
    i_list = range(1000)
    time1=time.time()
    pool.map(m1, i_list)
    time2=time.time()
    print('time elapse:',time2-time1)

    #单进程执行
    time1=time.time()
    list(map(m1, i_list))
    time2=time.time()
    print('time elapse:',time2-time1)
